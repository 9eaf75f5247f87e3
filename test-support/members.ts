import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import type { Member, Role } from '../access/roles.ts';
import { openRecords, type RecordsDb } from '../database/database.ts';
import { SqliteMemberStore } from '../members/sqlite-member-store.ts';

/**
 * For tests of routes behind sign-in: a real member in the records database and a real sign-in through
 * `POST /api/auth/login`, so tests exercise the same cookie a browser gets.
 */
export async function createTestMember(
  records: RecordsDb,
  options: { role: Role; email?: string; name?: string; password?: string; homeSite?: string },
): Promise<{ member: Member; password: string }> {
  const email = options.email ?? `${options.role}-${randomUUID().slice(0, 8)}@test.example`;
  return new SqliteMemberStore(records).create({
    email,
    role: options.role,
    ...(options.homeSite !== undefined ? { homeSite: options.homeSite } : {}),
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  });
}

/** A fresh records database (all migrations applied) in a temp dir, closed and removed on teardown. */
export function testRecords(t: Test): RecordsDb {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wesprint-records-'));
  const records = openRecords(path.join(dir, 'wesprint.db'));
  t.teardown(() => {
    records.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return records;
}

/** Signs in and returns the `cookie` header value to send with later requests (`wesprint_session=...`). */
export async function signIn(app: FastifyInstance, email: string, password: string): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { email, password } });
  if (response.statusCode !== 200) {
    throw new Error(`sign-in of ${email} failed: ${response.statusCode} ${response.body}`);
  }
  const session = response.cookies.find((c) => c.name === 'wesprint_session');
  if (!session) throw new Error(`sign-in of ${email} set no wesprint_session cookie`);
  return `wesprint_session=${session.value}`;
}

/** A member of the given role, signed in: what most route tests need in one line. */
export async function signedInMember(
  app: FastifyInstance,
  records: RecordsDb,
  role: Role,
): Promise<{ member: Member; password: string; cookie: string }> {
  const created = await createTestMember(records, { role });
  return { ...created, cookie: await signIn(app, created.member.email, created.password) };
}
