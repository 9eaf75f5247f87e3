import { isRole, type Member, type Role } from '../access/roles.ts';
import { inTransaction, type PostgresRecords } from '../database/postgres.ts';
import { generatePassword, hashPassword, verifyPassword } from '../site/credentials.ts';
import { type MemberRowOf, NO_SIGN_IN, toMember } from './member-rows.ts';
import {
  checkedSiteId,
  MAX_PASSWORD_LENGTH,
  MEMBER_SCRYPT_N,
  MemberError,
  type MemberListing,
  type MemberStore,
  type NewMember,
  type NewMemberWithoutSignIn,
  newMember,
  newMemberWithoutSignIn,
  normaliseEmail,
} from './member-store.ts';

/** A member's row as PostgreSQL returns it: a BOOLEAN for disabled. */
type MemberRow = MemberRowOf<boolean>;

/** Members of the building in PostgreSQL (table members). */
export class PostgresMemberStore implements MemberStore {
  /** Hash of a password nobody has: unknown e-mails are checked against it so they cost as much as known ones. */
  #decoy: Promise<string> | undefined;

  constructor(private readonly pool: PostgresRecords) {}

  async create(input: NewMember): Promise<{ member: Member; password: string }> {
    const { member, password } = newMember(input);
    if (await this.#row(member.email))
      throw new MemberError(`a member with e-mail ${member.email} exists already`);
    const hash = await hashPassword(password, MEMBER_SCRYPT_N);
    const inserted = await this.pool.query(
      `INSERT INTO members (id, email, name, role, password_hash, created_at, home_site)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (email) DO UPDATE SET home_site = excluded.home_site
       WHERE members.home_site IS NULL AND members.password_hash = $5 AND excluded.home_site IS NOT NULL`,
      [member.id, member.email, member.name, member.role, hash, Date.now(), member.homeSite ?? null],
    );
    // Two creations of the same e-mail racing past the check above.
    if (inserted.rowCount !== 1) throw new MemberError(`a member with e-mail ${member.email} exists already`);
    return { member, password };
  }

  /** The stored marker is no scrypt hash, so no password ever verifies against it. */
  async createWithoutSignIn(input: NewMemberWithoutSignIn): Promise<Member> {
    const member = newMemberWithoutSignIn(input);
    await this.pool.query(
      `INSERT INTO members (id, email, name, role, password_hash, created_at, home_site)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (email) DO UPDATE SET home_site = excluded.home_site
       WHERE members.home_site IS NULL AND members.password_hash = $5 AND excluded.home_site IS NOT NULL`,
      [member.id, member.email, member.name, member.role, NO_SIGN_IN, Date.now(), member.homeSite ?? null],
    );
    return this.#member((await this.#row(member.email)) as MemberRow);
  }

  async findByEmail(email: string): Promise<Member | undefined> {
    const row = await this.#row(email);
    return row ? this.#member(row) : undefined;
  }

  async findActive(id: string): Promise<Member | undefined> {
    const { rows } = await this.pool.query<MemberRow>(
      'SELECT * FROM members WHERE id = $1 AND NOT disabled',
      [id],
    );
    return rows[0] ? this.#member(rows[0]) : undefined;
  }

  async list(): Promise<MemberListing[]> {
    const { rows } = await this.pool.query<MemberRow>('SELECT * FROM members ORDER BY created_at, email');
    const roles = new Map<string, { site: string; role: string }[]>();
    const all = await this.pool.query<{ member_id: string; site: string; role: string }>(
      'SELECT member_id, site, role FROM member_site_roles ORDER BY site',
    );
    for (const r of all.rows) roles.set(r.member_id, [...(roles.get(r.member_id) ?? []), r]);
    return rows.map((r) => ({
      ...toMember(r, roles.get(r.id)),
      createdAt: r.created_at,
      disabled: r.disabled,
    }));
  }

  async setSiteRole(id: string, site: string, role: Role | null): Promise<void> {
    checkedSiteId(site);
    if (role !== null && !isRole(role)) throw new MemberError(`unknown role "${role}"`);
    await inTransaction(this.pool, async (client) => {
      const row = (
        await client.query<{ home_site: string | null }>(
          'SELECT home_site FROM members WHERE id = $1 FOR UPDATE',
          [id],
        )
      ).rows[0];
      if (!row) throw new MemberError(`no member ${id}`);
      if (row.home_site === site)
        throw new MemberError(`${site} is the member's home site: their role there is their own`);
      if (role === null)
        await client.query('DELETE FROM member_site_roles WHERE member_id = $1 AND site = $2', [id, site]);
      else
        await client.query(
          `INSERT INTO member_site_roles (member_id, site, role) VALUES ($1, $2, $3)
           ON CONFLICT (member_id, site) DO UPDATE SET role = excluded.role`,
          [id, site, role],
        );
    });
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
    return this.#member(row);
  }

  async #member(row: MemberRow): Promise<Member> {
    const { rows } = await this.pool.query<{ site: string; role: string }>(
      'SELECT site, role FROM member_site_roles WHERE member_id = $1 ORDER BY site',
      [row.id],
    );
    return toMember(row, rows);
  }

  async #row(email: string): Promise<MemberRow | undefined> {
    const { rows } = await this.pool.query<MemberRow>('SELECT * FROM members WHERE email = $1', [
      normaliseEmail(email),
    ]);
    return rows[0];
  }
}
