import t from 'tap';
import { filtersOverlap, filterWithin, isValidFilter, levelsMatch, topicMatches } from './topic-filter.ts';

t.test('topic matching follows MQTT 3.1.1 §4.7', async (t) => {
  t.ok(topicMatches('a/b', 'a/b'));
  t.notOk(topicMatches('a/b', 'a/b/c'));
  t.ok(topicMatches('a/+', 'a/b'));
  t.notOk(topicMatches('a/+', 'a/b/c'));
  t.ok(topicMatches('a/+', 'a/'), '+ matches an empty level');
  t.ok(topicMatches('a/#', 'a'), '# also matches the parent level');
  t.ok(topicMatches('a/#', 'a/b/c'));
  t.ok(topicMatches('#', 'a/b'));
  t.notOk(topicMatches('#', '$SYS/broker'), 'a leading wildcard does not match $-topics');
  t.notOk(topicMatches('+/broker', '$SYS/broker'));
  t.ok(topicMatches('$SYS/#', '$SYS/broker'));
  t.notOk(topicMatches('a/b', 'a/c'));
});

t.test('a requested filter must lie within an allowed filter', async (t) => {
  const allowed = 'nuki/abc/lockAction';
  t.ok(filterWithin('nuki/abc/lockAction', allowed));
  for (const wider of ['nuki/#', '#', 'nuki/+/lockAction', 'nuki/abc/+', 'nuki/abc/#', '+/abc/lockAction'])
    t.notOk(filterWithin(wider, allowed), `${wider} is wider than ${allowed}`);
  t.ok(filterWithin('wesprint/kh/readings/#', 'wesprint/kh/#'));
  t.ok(filterWithin('wesprint/kh', 'wesprint/kh/#'), 'x/# covers x itself');
  t.ok(filterWithin('wesprint/kh/+/x', 'wesprint/kh/+/+'));
  t.notOk(filterWithin('wesprint/kh/#', 'wesprint/kh/+'));
  t.notOk(filterWithin('wesprint/kh/+', 'wesprint/kh/a'));
  t.notOk(filterWithin('wesprint/#', 'wesprint/kh/#'));
  t.notOk(filterWithin('$SYS/#', '#'), '# does not cover $-topics');
  t.ok(filterWithin('a/b/c', '#'));
});

t.test('filters overlap when one topic could match both', async (t) => {
  t.ok(filtersOverlap('#', 'wesprint/+/commands/#'));
  t.ok(filtersOverlap('wesprint/kh/+/x', 'wesprint/+/commands/#'));
  t.notOk(filtersOverlap('wesprint/kh/readings/#', 'wesprint/+/commands/#'));
  t.ok(filtersOverlap('a/#', 'a'));
  t.notOk(filtersOverlap('a/+', 'a'));
  t.notOk(filtersOverlap('#', '$SYS/x'));
});

t.test('filter syntax', async (t) => {
  t.ok(isValidFilter('a/+/b/#'));
  t.notOk(isValidFilter('a/#/b'));
  t.notOk(isValidFilter('a/b#'));
  t.notOk(isValidFilter('a+/b'));
  t.notOk(isValidFilter(''));
});

t.test('levels split once match as the whole topic does', async (t) => {
  for (const [filter, topic] of [
    ['a/+', 'a/b'],
    ['a/#', 'a'],
    ['#', '$SYS/broker'],
    ['nuki/+/+', 'nuki/2BB28570/state'],
    ['nuki/+/+', 'nuki/2BB28570'],
  ] as const)
    t.equal(
      levelsMatch(filter.split('/'), topic.split('/')),
      topicMatches(filter, topic),
      `${filter} ~ ${topic}`,
    );
});
