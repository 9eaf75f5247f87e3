import { randomUUID } from 'node:crypto';
import { isRole, type Member, type Role } from '../access/roles.ts';
import type { RecordsDb } from '../database/database.ts';
import { generatePassword, hashPassword, verifyPassword } from '../site/credentials.ts';

/**
 * scrypt cost for members' passwords: 2^15 (32 MiB, ~100 ms on this 2-core machine) — slow enough that a
 * stolen database costs an attacker dearly, fast enough that signing in does not.
 */
export const MEMBER_SCRYPT_N = 2 ** 15;

/** A sign-in name: one @, something on both sides, no spaces; stored lower-cased. */
const EMAIL = /^[^\s@]+@[^\s@]+$/;
export const MAX_PASSWORD_LENGTH = 1024;
export const MIN_PASSWORD_LENGTH = 10;

/** Stored instead of a password hash for a member who cannot sign in. */
const NO_SIGN_IN = '!no-sign-in';

export class MemberError extends Error {
  override name = 'MemberError';
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

interface MemberRow {
  id: string;
  email: string;
  name: string;
  role: string;
  password_hash: string;
  created_at: number;
  disabled: number;
}

export interface MemberListing extends Member {
  createdAt: number;
  disabled: boolean;
}

function toMember(row: MemberRow): Member {
  if (!isRole(row.role)) throw new MemberError(`member ${row.id} has an unknown role "${row.role}"`);
  return { id: row.id, email: row.email, name: row.name, role: row.role };
}

/** Members of the building, in the records database. Never hands out a password hash. */
export class MemberStore {
  /** Hash of a password nobody has: unknown e-mails are checked against it so they cost as much as known ones. */
  #decoy: Promise<string> | undefined;

  constructor(private readonly records: RecordsDb) {}

  /**
   * Adds a member. Without a password one is generated; either way the plaintext is returned once and
   * only its scrypt hash is kept.
   */
  async create(input: {
    email: string;
    role: Role;
    name?: string;
    password?: string;
  }): Promise<{ member: Member; password: string }> {
    const email = normaliseEmail(input.email);
    if (!EMAIL.test(email) || email.length > 254)
      throw new MemberError(`"${input.email}" is not an e-mail address`);
    if (!isRole(input.role)) throw new MemberError(`unknown role "${input.role}"`);
    const password = input.password ?? generatePassword();
    if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
      throw new MemberError(
        `a password needs ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters (leave it out to get a generated one)`,
      );
    }
    if (this.findByEmail(email)) throw new MemberError(`a member with e-mail ${email} exists already`);
    const member: Member = {
      id: randomUUID(),
      email,
      name: input.name?.trim() || email.split('@')[0] || email,
      role: input.role,
    };
    const hash = await hashPassword(password, MEMBER_SCRYPT_N);
    try {
      this.records
        .prepare(
          'INSERT INTO members (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(member.id, member.email, member.name, member.role, hash, Date.now());
    } catch (err) {
      // Two creations of the same e-mail racing past the check above.
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new MemberError(`a member with e-mail ${email} exists already`);
      }
      throw err;
    }
    return { member, password };
  }

  /**
   * Adds a member who cannot sign in (the simulated building's population, which only books): no
   * password exists, and the stored marker is no scrypt hash, so no password ever verifies against it.
   */
  createWithoutSignIn(input: { email: string; role: Role; name: string }): Member {
    const email = normaliseEmail(input.email);
    if (!EMAIL.test(email) || email.length > 254)
      throw new MemberError(`"${input.email}" is not an e-mail address`);
    if (!isRole(input.role)) throw new MemberError(`unknown role "${input.role}"`);
    const member: Member = { id: randomUUID(), email, name: input.name.trim() || email, role: input.role };
    this.records
      .prepare(
        'INSERT INTO members (id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING',
      )
      .run(member.id, member.email, member.name, member.role, NO_SIGN_IN, Date.now());
    return this.findByEmail(email) as Member;
  }

  findByEmail(email: string): Member | undefined {
    const row = this.records.prepare('SELECT * FROM members WHERE email = ?').get(normaliseEmail(email)) as
      | MemberRow
      | undefined;
    return row ? toMember(row) : undefined;
  }

  /** An enabled member by id (what a session resolves to). */
  findActive(id: string): Member | undefined {
    const row = this.records.prepare('SELECT * FROM members WHERE id = ? AND disabled = 0').get(id) as
      | MemberRow
      | undefined;
    return row ? toMember(row) : undefined;
  }

  list(): MemberListing[] {
    const rows = this.records
      .prepare('SELECT * FROM members ORDER BY created_at, email')
      .all() as MemberRow[];
    return rows.map((r) => ({ ...toMember(r), createdAt: r.created_at, disabled: r.disabled === 1 }));
  }

  count(): number {
    return this.records.prepare('SELECT count(*) FROM members').pluck().get() as number;
  }

  setDisabled(id: string, disabled: boolean): void {
    this.records.prepare('UPDATE members SET disabled = ? WHERE id = ?').run(disabled ? 1 : 0, id);
    if (disabled) this.records.prepare('DELETE FROM sessions WHERE member_id = ?').run(id);
  }

  /**
   * The enabled member with this e-mail and password, else undefined. Unknown e-mails and disabled members
   * cost one scrypt like a wrong password, so timing does not tell who is a member.
   */
  async verify(email: string, password: string): Promise<Member | undefined> {
    if (password.length > MAX_PASSWORD_LENGTH) return undefined;
    const row = this.records.prepare('SELECT * FROM members WHERE email = ?').get(normaliseEmail(email)) as
      | MemberRow
      | undefined;
    this.#decoy ??= hashPassword(generatePassword(), MEMBER_SCRYPT_N);
    // A member without sign-in costs a scrypt too, so timing does not tell that the account exists.
    const hash = row && row.password_hash !== NO_SIGN_IN ? row.password_hash : await this.#decoy;
    let ok = false;
    try {
      ok = await verifyPassword(password, hash);
    } catch {
      // A hash this code did not write (hand-edited database): no sign-in, never a crash.
      ok = false;
    }
    if (!ok || !row || row.disabled === 1 || row.password_hash === NO_SIGN_IN) return undefined;
    return toMember(row);
  }
}
