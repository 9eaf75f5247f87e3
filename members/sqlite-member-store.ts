import { isRole, type Member, type Role } from '../access/roles.ts';
import type { RecordsDb } from '../database/database.ts';
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

/** A member's row as SQLite returns it: 0 or 1 for disabled. */
type MemberRow = MemberRowOf<number>;

/** Members of the building in the records database (table members). */
export class SqliteMemberStore implements MemberStore {
  /** Hash of a password nobody has: unknown e-mails are checked against it so they cost as much as known ones. */
  #decoy: Promise<string> | undefined;

  constructor(private readonly records: RecordsDb) {}

  async create(input: NewMember): Promise<{ member: Member; password: string }> {
    const { member, password } = newMember(input);
    if (this.#row(member.email)) throw new MemberError(`a member with e-mail ${member.email} exists already`);
    const hash = await hashPassword(password, MEMBER_SCRYPT_N);
    try {
      this.records
        .prepare(
          'INSERT INTO members (id, email, name, role, password_hash, created_at, home_site) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(member.id, member.email, member.name, member.role, hash, Date.now(), member.homeSite ?? null);
    } catch (err) {
      // Two creations of the same e-mail racing past the check above.
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw new MemberError(`a member with e-mail ${member.email} exists already`);
      }
      throw err;
    }
    return { member, password };
  }

  /** The stored marker is no scrypt hash, so no password ever verifies against it. */
  async createWithoutSignIn(input: NewMemberWithoutSignIn): Promise<Member> {
    const member = newMemberWithoutSignIn(input);
    this.records
      .prepare(
        `INSERT INTO members (id, email, name, role, password_hash, created_at, home_site) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (email) DO UPDATE SET home_site = excluded.home_site
         WHERE members.home_site IS NULL AND members.password_hash = ? AND excluded.home_site IS NOT NULL`,
      )
      .run(
        member.id,
        member.email,
        member.name,
        member.role,
        NO_SIGN_IN,
        Date.now(),
        member.homeSite ?? null,
        NO_SIGN_IN,
      );
    return this.#member(this.#row(member.email) as MemberRow);
  }

  async findByEmail(email: string): Promise<Member | undefined> {
    const row = this.#row(email);
    return row ? this.#member(row) : undefined;
  }

  async findActive(id: string): Promise<Member | undefined> {
    const row = this.records.prepare('SELECT * FROM members WHERE id = ? AND disabled = 0').get(id) as
      | MemberRow
      | undefined;
    return row ? this.#member(row) : undefined;
  }

  async list(): Promise<MemberListing[]> {
    const rows = this.records
      .prepare('SELECT * FROM members ORDER BY created_at, email')
      .all() as MemberRow[];
    const roles = new Map<string, { site: string; role: string }[]>();
    const all = this.records
      .prepare('SELECT member_id, site, role FROM member_site_roles ORDER BY site')
      .all() as { member_id: string; site: string; role: string }[];
    for (const r of all) roles.set(r.member_id, [...(roles.get(r.member_id) ?? []), r]);
    return rows.map((r) => ({
      ...toMember(r, roles.get(r.id)),
      createdAt: r.created_at,
      disabled: r.disabled === 1,
    }));
  }

  async setSiteRole(id: string, site: string, role: Role | null): Promise<void> {
    checkedSiteId(site);
    if (role !== null && !isRole(role)) throw new MemberError(`unknown role "${role}"`);
    this.records.transaction(() => {
      const row = this.records.prepare('SELECT home_site FROM members WHERE id = ?').get(id) as
        | { home_site: string | null }
        | undefined;
      if (!row) throw new MemberError(`no member ${id}`);
      if (row.home_site === site)
        throw new MemberError(`${site} is the member's home site: their role there is their own`);
      if (role === null)
        this.records.prepare('DELETE FROM member_site_roles WHERE member_id = ? AND site = ?').run(id, site);
      else
        this.records
          .prepare(
            'INSERT INTO member_site_roles (member_id, site, role) VALUES (?, ?, ?) ON CONFLICT (member_id, site) DO UPDATE SET role = excluded.role',
          )
          .run(id, site, role);
    })();
  }

  async count(): Promise<number> {
    return this.records.prepare('SELECT count(*) FROM members').pluck().get() as number;
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    this.records.transaction(() => {
      this.records.prepare('UPDATE members SET disabled = ? WHERE id = ?').run(disabled ? 1 : 0, id);
      if (disabled) this.records.prepare('DELETE FROM sessions WHERE member_id = ?').run(id);
    })();
  }

  async verify(email: string, password: string): Promise<Member | undefined> {
    if (password.length > MAX_PASSWORD_LENGTH) return undefined;
    const row = this.#row(email);
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
    return this.#member(row);
  }

  #member(row: MemberRow): Member {
    const roles = this.records
      .prepare('SELECT site, role FROM member_site_roles WHERE member_id = ? ORDER BY site')
      .all(row.id) as { site: string; role: string }[];
    return toMember(row, roles);
  }

  #row(email: string): MemberRow | undefined {
    return this.records.prepare('SELECT * FROM members WHERE email = ?').get(normaliseEmail(email)) as
      | MemberRow
      | undefined;
  }
}
