import type { RecordsDb } from '../database/database.ts';
import { LobbyTokens } from './lobby-tokens.ts';
import { DEFAULT_LOCKOUT, type LockoutRule, LoginFailures } from './lockout.ts';
import { MAX_PASSWORD_LENGTH, MemberStore, normaliseEmail } from './member-store.ts';
import type { Member } from './roles.ts';
import { DEFAULT_SESSION_LIFETIME, type SessionLifetime, SessionStore } from './sessions.ts';

export type SignInResult =
  | { outcome: 'signed_in'; member: Member; token: string; expiresAt: number }
  | { outcome: 'invalid' }
  | { outcome: 'locked'; until: number };

/** What a sign-in attempt leaves for the audit log (never the password). */
export interface SignInEvent {
  at: number;
  /** The member's id when the e-mail belongs to one. */
  memberId: string | null;
  email: string;
  outcome: 'signed_in' | 'invalid' | 'locked' | 'signed_out';
  ip: string | null;
}

export interface IdentityOptions {
  lockout?: LockoutRule;
  sessionLifetime?: SessionLifetime;
  /** Called for every sign-in attempt and sign-out; a throwing listener never blocks a sign-in. */
  onSignIn?: (event: SignInEvent) => void;
}

/** Everything about who someone is: members, sessions, lobby tokens and the lockout on failed sign-ins. */
export class Identity {
  readonly members: MemberStore;
  readonly sessions: SessionStore;
  readonly lobbyTokens: LobbyTokens;
  readonly failures: LoginFailures;
  #onSignIn: ((event: SignInEvent) => void) | undefined;

  constructor(
    readonly records: RecordsDb,
    options: IdentityOptions = {},
  ) {
    this.members = new MemberStore(records);
    this.sessions = new SessionStore(
      records,
      this.members,
      options.sessionLifetime ?? DEFAULT_SESSION_LIFETIME,
    );
    this.lobbyTokens = new LobbyTokens(records);
    this.failures = new LoginFailures(records, options.lockout ?? DEFAULT_LOCKOUT);
    this.#onSignIn = options.onSignIn;
  }

  /** Listens to sign-in events (the audit log, once wired). Replaces an earlier listener. */
  set onSignIn(listener: ((event: SignInEvent) => void) | undefined) {
    this.#onSignIn = listener;
  }

  /**
   * Checks e-mail and password and starts a session. A locked account is refused before its password is
   * checked (so guessing on stops counting); the lock is per e-mail, whether or not a member has it.
   */
  async signIn(
    email: string,
    password: string,
    context: { ip?: string; now?: number } = {},
  ): Promise<SignInResult> {
    const now = context.now ?? Date.now();
    const key = normaliseEmail(email).slice(0, 254);
    const event = (outcome: SignInEvent['outcome'], memberId: string | null) =>
      this.#emit({ at: now, memberId, email: key, outcome, ip: context.ip ?? null });

    const until = this.failures.lockedUntil(key, now);
    if (until !== null) {
      event('locked', this.members.findByEmail(key)?.id ?? null);
      return { outcome: 'locked', until };
    }
    const member =
      password.length <= MAX_PASSWORD_LENGTH ? await this.members.verify(key, password) : undefined;
    if (!member) {
      this.failures.record(key, now);
      event('invalid', this.members.findByEmail(key)?.id ?? null);
      // The attempt that trips the lock is still answered as a wrong password; the next one is refused.
      return { outcome: 'invalid' };
    }
    this.failures.clear(key);
    const session = this.sessions.start(member.id, now);
    event('signed_in', member.id);
    return { outcome: 'signed_in', member, ...session };
  }

  signOut(token: string, context: { ip?: string; now?: number } = {}): void {
    const member = this.sessions.resolve(token, context.now);
    if (!this.sessions.end(token) || !member) return;
    this.#emit({
      at: context.now ?? Date.now(),
      memberId: member.id,
      email: member.email,
      outcome: 'signed_out',
      ip: context.ip ?? null,
    });
  }

  #emit(event: SignInEvent): void {
    try {
      this.#onSignIn?.(event);
    } catch {
      // The audit listener's own failure must not decide whether someone signs in.
    }
  }
}
