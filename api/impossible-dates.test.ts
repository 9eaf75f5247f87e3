import t from 'tap';
import { testApi } from '../test-support/api.ts';
import { signedInMember } from '../test-support/members.ts';

/** Every route that takes a date-time refuses one that names a day or hour that does not exist. */
t.test('30 February, 31 April and 24:00 are a 400 wherever a date-time is taken', async (t) => {
  const { app, records } = await testApi(t);
  const admin = await signedInMember(app, records, 'admin');
  const member = await signedInMember(app, records, 'member');

  const booking = await app.inject({
    method: 'POST',
    url: '/api/bookings',
    headers: { cookie: member.cookie },
    payload: { spaceId: 'protel-1', start: '2027-02-30T10:00:00Z', end: '2027-02-30T11:00:00Z' },
  });
  t.equal(booking.statusCode, 400, 'a booking on 30 February is refused');
  t.match(booking.json(), { reason: 'invalid_time', message: /2027-02-30T10:00:00Z/ });
  const listed = await app.inject({ url: '/api/bookings?mine=1', headers: { cookie: member.cookie } });
  t.same(listed.json().bookings, [], 'and nothing was booked on 2 March instead');

  const endOnly = await app.inject({
    method: 'POST',
    url: '/api/bookings',
    headers: { cookie: member.cookie },
    payload: { spaceId: 'protel-1', start: '2027-04-30T22:00:00Z', end: '2027-04-31T00:30:00Z' },
  });
  t.equal(endOnly.statusCode, 400, 'an end on 31 April is refused');

  const queries = [
    { url: '/api/spaces/protel-1/availability', cookie: member.cookie },
    { url: '/api/bookings', cookie: member.cookie },
    { url: '/api/series?device=meter-eg&quantity=power', cookie: admin.cookie },
    { url: '/api/audit', cookie: admin.cookie },
  ];
  for (const { url, cookie } of queries) {
    const join = url.includes('?') ? '&' : '?';
    const ok = await app.inject({
      url: `${url}${join}from=2027-02-28T10:00:00Z&to=2027-03-01T10:00:00Z`,
      headers: { cookie },
    });
    t.equal(ok.statusCode, 200, `${url}: a real range is answered`);
    for (const [name, other, bad] of [
      ['from', 'to=2027-03-05T00:00:00Z', '2027-02-30T10:00:00Z'],
      ['to', 'from=2027-02-01T00:00:00Z', '2027-02-29'],
      ['to', 'from=2027-02-01T00:00:00Z', '2027-02-10T24:00:00Z'],
    ] as const) {
      const res = await app.inject({ url: `${url}${join}${other}&${name}=${bad}`, headers: { cookie } });
      t.equal(res.statusCode, 400, `${url} ${name}=${bad}`);
      t.match(res.json().message, new RegExp(`${name}: "${bad}" is not a valid date`));
    }
  }
});
