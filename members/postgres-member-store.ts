import { isRole, type Member, type Role } from '../access/roles.ts';
import { inTransaction, type PostgresRecords } from '../database/postgres.ts';
import { generatePassword, hashPassword, verifyPassword } from '../site/credentials.ts';
import {
  MAX_PASSWORD_LENGTH,
  MEMBER_SCRYPT_N,
  MemberError,
  type MemberListing,
  type MemberStore,
  type NewMember,
  newMember,
  newMemberWithoutSignIn,
  normaliseEmail,
} from './member-store.ts';

/** Stored instead of a password hash for a member who cannot sign in (as on the SQLite side). */
const NO_SIGN_IN = '!no-sign-in';

interface MemberRow {
  id: string;
  email: string;
  name: string;
  role: string;
  password_hash: string;
  created_at: number;
  disabled: boolean;
}

function toMember(row: MemberRow): Member {
  if (!isRole(row.role)) throw new MemberError(`member ${row.id} has an unknown role "${row.role}"`);
  return { id: row.id, email: row.email, name: row.name, role: row.role };
}

/** Members of the building in PostgreSQL (table members). */
export class PostgresMemberStore implements MemberStore {
  /** Hash of a password nobody has: unknown e-mails are checked against it so they cost as much as known ones. */
  #decoy: Promise<string> | undefined;

  constructor(private readonly pool: PostgresRecords) {}

  async create(input: NewMember): Promise<{ member: Member; password: string }> {
    const { member, password } = newMember(input);
    if (await this.#row(member.email)) throw new MemberError(`a member with e-mail ${member.email} exists already`);
    const hash = await hashPassword(password, MEMBER_SCRYPT_N);
    const inserted = await this.pool.query(
      `INSERT INTO members (id, email, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (email) DO NOTHING`,
      [member.id, member.email, member.name, member.role, hash, Date.now()],
    );
    // Two creations of the same e-mail racing past the check above.
    if (inserted.rowCount !== 1) throw new MemberError(`a member with e-mail ${member.email} exists already`);
    return { member, password };
  }

  /** The stored marker is no scrypt hash, so no password ever verifies against it. */
  async createWithoutSignIn(input: { email: string; role: Role; name: string }): Promise<Member> {
    const member = newMemberWithoutSignIn(input);
    await this.pool.query(
      `INSERT INTO members (id, email, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (email) DO NOTHING`,
      [member.id, member.email, member.name, member.role, NO_SIGN_IN, Date.now()],
    );
    return toMember((await this.#row(member.email)) as MemberRow);
  }

  async findByEmail(email: string): Promise<Member | undefined> {
    const row = await this.#row(email);
    return row ? toMember(row) : undefined;
  }

  async findActive(id: string): Promise<Member | undefined> {
    const { rows } = await this.pool.query<MemberRow>('SELECT * FROM members WHERE id = $1 AND NOT disabled', [
      id,
    ]);
    return rows[0] ? toMember(rows[0]) : undefined;
  }

  async list(): Promise<MemberListing[]> {
    const { rows } = await this.pool.query<MemberRow>('SELECT * FROM members ORDER BY created_at, email');
    return rows.map((r) => ({ ...toMember(r), createdAt: r.created_at, disabled: r.disabled }));
  }

  async count(): Promise<number> {
    return (await this.pool.query<{ n: number }>('SELECT count(*) AS n FROM members')).rows[0]?.n ?? 0;
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query('UPDATE members SET disabled = $1 WHERE id = $2', [disabled, id]);
      if (disabled) await client.query('DELETE FROM sessions WHERE member_id = $1', [id]);
    });
  }

  async verify(email: string, password: string): Promise<Member | undefined> {
    if (password.length > MAX_PASSWORD_LENGTH) return undefined;
    const row = await this.#row(email);
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
    if (!ok || !row || row.disabled || row.password_hash === NO_SIGN_IN) return undefined;
    return toMember(row);
  }

  async #row(email: string): Promise<MemberRow | undefined> {
    const { rows } = await this.pool.query<MemberRow>('SELECT * FROM members WHERE email = $1', [
      normaliseEmail(email),
    ]);
    return rows[0];
  }
}
