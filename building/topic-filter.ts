/**
 * MQTT topic filter algebra (MQTT 3.1.1 §4.7): which topics a filter matches, whether one filter lies within
 * another. The broker's ACL decides with it and the device registry routes messages to families with it.
 */

function isWildcard(level: string | undefined): boolean {
  return level === '+' || level === '#';
}

/** Is `filter` a syntactically valid MQTT topic filter? (`#` last and alone in its level, `+` alone in its level.) */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return false;
    if (level.includes('+') && level !== '+') return false;
  }
  return true;
}

/** Is `topic` a valid topic name to publish to (non-empty, no wildcards)? */
export function isValidTopicName(topic: string): boolean {
  return topic.length > 0 && !topic.includes('+') && !topic.includes('#') && !topic.includes('\u0000');
}

/** Does the topic name match the filter? A filter starting with a wildcard never matches a `$`-topic (§4.7.2). */
export function topicMatches(filter: string, topic: string): boolean {
  return levelsMatch(filter.split('/'), topic.split('/'));
}

/** `topicMatches` on levels split once, for a hot path that tries many filters against one topic. */
export function levelsMatch(filter: readonly string[], topic: readonly string[]): boolean {
  if (topic[0]?.startsWith('$') && isWildcard(filter[0])) return false;
  for (let i = 0; i < filter.length; i++) {
    const level = filter[i];
    if (level === '#') return true;
    if (i >= topic.length) return false;
    if (level !== '+' && level !== topic[i]) return false;
  }
  return filter.length === topic.length;
}

/**
 * Is every topic matched by `requested` also matched by `allowed`? This is what a subscription request is
 * checked with: `nuki/abc/lockAction` allowed does not let `nuki/#`, `nuki/+/lockAction` or `#` through.
 */
export function filterWithin(requested: string, allowed: string): boolean {
  const r = requested.split('/');
  const a = allowed.split('/');
  if (requested.startsWith('$') && isWildcard(a[0])) return false;
  for (let i = 0; i < Math.max(r.length, a.length); i++) {
    const al = a[i];
    const rl = r[i];
    if (al === '#') return true;
    if (al === undefined || rl === undefined) return false;
    if (rl === '#') return false;
    if (rl === '+') {
      if (al !== '+') return false;
    } else if (al !== '+' && al !== rl) return false;
  }
  return true;
}

/** Could some topic match both filters? */
export function filtersOverlap(x: string, y: string): boolean {
  const a = x.split('/');
  const b = y.split('/');
  const dollar = (s: string | undefined) => s?.startsWith('$') === true;
  if ((isWildcard(a[0]) && dollar(b[0])) || (isWildcard(b[0]) && dollar(a[0]))) return false;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const al = a[i];
    const bl = b[i];
    if (al === '#' || bl === '#') return true;
    if (al === undefined || bl === undefined) return false;
    if (al !== '+' && bl !== '+' && al !== bl) return false;
  }
  return true;
}
