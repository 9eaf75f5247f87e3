import t from 'tap';
import type WebSocket from 'ws';
import { Identity } from '../members/identity.ts';
import { SqliteMemberStore } from '../members/sqlite-member-store.ts';
import { testApi } from '../test-support/api.ts';
import { signedInMember, testRecords } from '../test-support/members.ts';
import { listenWebSocket, upgradeStatus } from '../test-support/small-building.ts';
import { ACCESS_WITHDRAWN, CREDENTIALS_ENDED } from './socket-sessions.ts';

const CHANNELS = ['/api/live', '/api/alerts/live', '/api/lobby/live'] as const;

/** The close code the server sends, or 'still open' if none within `ms`. */
function closeCode(socket: WebSocket, ms: number): Promise<number | 'still open'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('still open'), ms);
    socket.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

t.test('signing out closes the live channels of that session at once, and only those', async (t) => {
  // The periodic check is an hour away: only the sign-out itself can close them.
  const { app, records } = await testApi(t, { socketCheckMs: 3_600_000 });
  const ws = (await app.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws');
  const admin = await signedInMember(app, records, 'admin');
  const board = await signedInMember(app, records, 'board');
  const leaving = await Promise.all(
    CHANNELS.map((path) => listenWebSocket(t, `${ws}${path}`, { cookie: admin.cookie })),
  );
  const staying = await Promise.all(
    CHANNELS.map((path) => listenWebSocket(t, `${ws}${path}`, { cookie: board.cookie })),
  );
  t.equal(app.openSockets.size, 6, 'six sockets held');
  const closing = leaving.map(({ socket }) => closeCode(socket, 5_000));

  const out = await app.inject({
    method: 'POST',
    url: '/api/auth/logout',
    headers: { cookie: admin.cookie },
  });
  t.equal(out.statusCode, 204);
  t.same(
    await Promise.all(closing),
    [CREDENTIALS_ENDED, CREDENTIALS_ENDED, CREDENTIALS_ENDED],
    'all three closed',
  );
  t.same(
    await Promise.all(staying.map(({ socket }) => closeCode(socket, 300))),
    ['still open', 'still open', 'still open'],
    "another member's sockets stay",
  );
  t.equal(app.openSockets.size, 3);
  for (const path of CHANNELS)
    t.equal(await upgradeStatus(`${ws}${path}`, { cookie: admin.cookie }), 401, `${path}: no way back`);
});

t.test('a disabled member, a withdrawn role and a revoked lobby token close within the check', async (t) => {
  const records = testRecords(t);
  const identity = new Identity(records);
  const { app } = await testApi(t, { records, identity, socketCheckMs: 100 });
  const ws = (await app.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws');

  const disabled = await signedInMember(app, records, 'facility');
  const disabledSocket = await listenWebSocket(t, `${ws}/api/alerts/live`, { cookie: disabled.cookie });
  const demoted = await signedInMember(app, records, 'board');
  const demotedLive = await listenWebSocket(t, `${ws}/api/live`, { cookie: demoted.cookie });
  const demotedLobby = await listenWebSocket(t, `${ws}/api/lobby/live`, { cookie: demoted.cookie });
  const lobby = await identity.lobbyTokens.create('Foyer');
  const screen = await listenWebSocket(t, `${ws}/api/lobby/live?token=${lobby.token}`);

  const closes = {
    disabled: closeCode(disabledSocket.socket, 3_000),
    demotedLive: closeCode(demotedLive.socket, 3_000),
    demotedLobby: closeCode(demotedLobby.socket, 3_000),
    screen: closeCode(screen.socket, 3_000),
  };
  await new SqliteMemberStore(records).setDisabled(disabled.member.id, true);
  records.prepare("UPDATE members SET role = 'member' WHERE id = ?").run(demoted.member.id);
  await identity.lobbyTokens.revoke(lobby.id);
  t.equal(await closes.disabled, CREDENTIALS_ENDED, 'a disabled member');
  t.equal(await closes.demotedLive, ACCESS_WITHDRAWN, 'a role that may no longer read /api/live');
  t.equal(await closes.screen, CREDENTIALS_ENDED, 'a revoked lobby token');
  t.equal(await closes.demotedLobby, 'still open', 'the lobby is any member’s: it stays');
});

t.test(
  'a session past its idle time closes its sockets; an open socket is not use that keeps it alive',
  async (t) => {
    // The identity's clock is the test's: how long the machine takes to open the socket does not count.
    const clock = { now: Date.now() };
    const records = testRecords(t);
    const identity = new Identity(records, {
      now: () => clock.now,
      sessionLifetime: { idleMs: 1_500, absoluteMs: 86_400_000 },
    });
    const { app } = await testApi(t, { records, identity, socketCheckMs: 100 });
    const ws = (await app.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws');
    const facility = await signedInMember(app, records, 'facility');
    const live = await listenWebSocket(t, `${ws}/api/live`, { cookie: facility.cookie });
    const closed = closeCode(live.socket, 60_000);
    // Steps shorter than the idle time, each with checks in between: were a check use, the session would live on.
    let code: number | 'still open' | undefined;
    void closed.then((c) => {
      code = c;
    });
    for (let step = 0; step < 4 && code === undefined; step++) {
      clock.now += 1_000;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    t.equal(await closed, CREDENTIALS_ENDED, 'closed once the idle time passed with only checks in it');
    t.equal((await app.inject({ url: '/api/me', headers: { cookie: facility.cookie } })).statusCode, 401);
  },
);

t.test('a WebSocket route added later is held too, however it declares its socket handler', async (t) => {
  const { app, records } = await testApi(t, { socketCheckMs: 3_600_000 });
  app.route({
    method: 'GET',
    url: '/test/both',
    config: { access: ['member'] },
    handler: async () => ({ http: true }),
    wsHandler: (socket) => socket.send('{"type":"hello"}'),
  });
  app.get('/test/socket', { websocket: true, config: { access: ['member'] } }, (socket) =>
    socket.send('{"type":"hello"}'),
  );
  const ws = (await app.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws');
  const member = await signedInMember(app, records, 'member');
  const sockets = await Promise.all(
    ['/test/both', '/test/socket'].map((path) =>
      listenWebSocket(t, `${ws}${path}`, { cookie: member.cookie }),
    ),
  );
  const closing = sockets.map(({ socket }) => closeCode(socket, 5_000));
  await app.inject({ method: 'POST', url: '/api/auth/logout', headers: { cookie: member.cookie } });
  t.same(await Promise.all(closing), [CREDENTIALS_ENDED, CREDENTIALS_ENDED]);
});
