/**
 * Who may open the automations editor (the embedded Node-RED): an administrator of the site, signed in with
 * their WeSprint e-mail and password. Node-RED's own user list stays empty: its `adminAuth` asks WeSprint's
 * sign-in route (with its waits after failed attempts, its rate limit and its audit entry), keeps the WeSprint
 * session that sign-in opened, and asks again with it at most every `recheckMs` while the editor is used, so
 * signing out of WeSprint, a session running out or a role taken away closes the editor too.
 *
 * Plain JavaScript, as node-red-process.mjs: Node-RED's process loads no TypeScript loader, which would sit in
 * front of each of the some thousand modules Node-RED requires (a second and more of its start).
 */

/** The one role that may change the building's automations: they command its switches and valves. */
export function mayOpenEditor(member) {
  return member.role === 'admin';
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' };

/**
 * Node-RED's `adminAuth` (type credentials with functions) backed by WeSprint.
 * @param {{ apiUrl: string, recheckMs?: number, sessionExpiryS?: number, now?: () => number,
 *   log: (decision: 'granted' | 'denied', detail: { user: string, reason: string }) => void }} options
 */
export function wesprintAdminAuth(options) {
  const now = options.now ?? Date.now;
  const recheckMs = options.recheckMs ?? 10_000;
  // By e-mail: the WeSprint session the last sign-in to the editor opened.
  const held = new Map();

  const signOut = async (session) => {
    await fetch(`${options.apiUrl}/api/auth/logout`, {
      method: 'POST',
      headers: { authorization: `Bearer ${session}` },
    }).catch(() => undefined);
  };

  const memberOf = async (session) => {
    const response = await fetch(`${options.apiUrl}/api/me`, {
      headers: { authorization: `Bearer ${session}`, accept: 'application/json' },
    });
    if (!response.ok) return null;
    return (await response.json()).member;
  };

  return {
    type: 'credentials',
    sessionExpiryTime: options.sessionExpiryS ?? 8 * 3600,
    async authenticate(username, password) {
      const response = await fetch(`${options.apiUrl}/api/auth/login`, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: JSON.stringify({ email: username, password }),
      }).catch(() => null);
      if (!response?.ok) {
        options.log('denied', {
          user: String(username).slice(0, 254),
          reason: response ? `sign-in refused (${response.status})` : 'WeSprint API not reachable',
        });
        return null;
      }
      const { member, token } = await response.json();
      if (!mayOpenEditor(member)) {
        await signOut(token);
        options.log('denied', { user: member.email, reason: `role ${member.role}, not admin` });
        return null;
      }
      const before = held.get(member.email);
      held.set(member.email, { session: token, checkedAt: now() });
      if (before) await signOut(before.session);
      options.log('granted', { user: member.email, reason: 'admin' });
      return { username: member.email, permissions: '*' };
    },
    async users(username) {
      const h = held.get(username);
      if (!h) return null;
      if (now() - h.checkedAt < recheckMs) return { username, permissions: '*' };
      const member = await memberOf(h.session).catch(() => undefined);
      // The API not answering is no reason to keep or drop anyone: the last answer holds until it does.
      if (member === undefined) return { username, permissions: '*' };
      if (member === null || !mayOpenEditor(member)) {
        held.delete(username);
        options.log('denied', {
          user: username,
          reason: member === null ? 'WeSprint session ended' : `role now ${member.role}`,
        });
        return null;
      }
      h.checkedAt = now();
      return { username, permissions: '*' };
    },
  };
}
