import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { Identity } from '../members/identity.ts';
import { testApi } from '../test-support/api.ts';
import { signedInMember } from '../test-support/members.ts';
import { REDACTED, redactUrl } from './request-log.ts';

t.test('secrets in URLs are redacted, the rest kept as it came', async (t) => {
  t.equal(redactUrl('/api/lobby?token=abc123'), `/api/lobby?token=${REDACTED}`);
  t.equal(redactUrl('/lobby?lang=en&token=abc&x=%20y'), `/lobby?lang=en&token=${REDACTED}&x=%20y`);
  t.equal(
    redactUrl('/lobby?to%6Ben=abc'),
    `/lobby?to%6Ben=${REDACTED}`,
    'an escaped name is still the token',
  );
  t.equal(redactUrl('/lobby?TOKEN=abc&access_token=d'), `/lobby?TOKEN=${REDACTED}&access_token=${REDACTED}`);
  t.equal(redactUrl('/lobby?token'), `/lobby?token=${REDACTED}`);
  t.equal(
    redactUrl('/lobby?token=a%ZZ'),
    `/lobby?token=${REDACTED}`,
    'a bad escape neither throws nor leaks',
  );
  t.equal(redactUrl(`/api/calendar/${'A'.repeat(43)}.ics`), `/api/calendar/${REDACTED}.ics`);
  t.equal(redactUrl('/api/series?from=2026-11-01&to=x'), '/api/series?from=2026-11-01&to=x');
  t.equal(redactUrl('/api/me'), '/api/me');
});

t.test('the request log of the real API carries no lobby or calendar token', async (t) => {
  const lines: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  const { app, records } = await testApi(t, { logger });
  const lobby = (await new Identity(records).lobbyTokens.create('Foyer')).token;
  const { cookie } = await signedInMember(app, records, 'member');
  const feed = await app.inject({ method: 'POST', url: '/api/me/calendar-token', headers: { cookie } });
  const calendar = feed.json().token as string;

  t.equal((await app.inject(`/api/lobby?token=${lobby}`)).statusCode, 200);
  t.equal((await app.inject(`/lobby?lang=en&token=${lobby}`)).statusCode, 200);
  t.equal((await app.inject(`/api/calendar/${calendar}.ics`)).statusCode, 200);

  const log = lines.join('');
  const urls = lines.map((l) => JSON.parse(l)).flatMap((l) => (l.req?.url ? [l.req.url] : []));
  t.notOk(log.includes(lobby), 'no lobby token anywhere in the log');
  t.notOk(log.includes(calendar), 'no calendar token anywhere in the log');
  t.ok(urls.includes(`/api/lobby?token=${REDACTED}`), 'the lobby request is logged, redacted');
  t.ok(urls.includes(`/lobby?lang=en&token=${REDACTED}`), 'other parameters stay readable');
});

t.test('routine requests are logged at debug, one line each, not at info', async (t) => {
  const logged = (level: string) => {
    const lines: { level: number; msg: string; req?: { url?: string } }[] = [];
    const logger = pino(
      { level },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(JSON.parse(String(chunk)));
          done();
        },
      }),
    );
    return { logger, lines };
  };
  for (const level of ['info', 'debug']) {
    const { logger, lines } = logged(level);
    const { app } = await testApi(t, { logger });
    await app.inject('/api/me'); // 401 without a session: a request all the same
    const aboutIt = lines.filter((l) => l.req?.url === '/api/me');
    t.equal(
      aboutIt.length,
      level === 'info' ? 0 : 1,
      `at ${level}: ${aboutIt.length} line(s) for one request`,
    );
  }
});
