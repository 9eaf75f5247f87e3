import { clientNetwork, type GuessThrottleRule } from '../access/guess-throttle.ts';
import type { Member } from '../access/roles.ts';
import type { RecordsDb } from '../database/database.ts';
import type { IntegrationTokens } from './integration-tokens.ts';
import type { LobbyTokens } from './lobby-tokens.ts';
import { MAX_PASSWORD_LENGTH, type MemberStore, membersSeenFrom, normaliseEmail } from './member-store.ts';
import { DEFAULT_SESSION_LIFETIME, type SessionLifetime, type SessionStore } from './sessions.ts';
import type { SignInFailures, SignInThrottleScope } from './sign-in-throttle.ts';
import { SqliteIntegrationTokens } from './sqlite-integration-tokens.ts';
import { SqliteLobbyTokens } from './sqlite-lobby-tokens.ts';
import { SqliteMemberStore } from './sqlite-member-store.ts';
import { SqliteSessionStore } from './sqlite-sessions.ts';
import { SqliteSignInFailures } from './sqlite-sign-in-throttle.ts';

export type SignInResult =
  | { outcome: 'signed_in'; member: Member; token: string; expiresAt: number }
  | { outcome: 'invalid' }
  /** Too many failed attempts lately: not checked; try again at `until` (epoch ms of the identity's clock). */
  | { outcome: 'throttled'; until: number; retryAfterMs: number; scope: SignInThrottleScope };

/** What a sign-in attempt leaves for the audit log (never the password). */
export interface SignInEvent {
  at: number;
  /** The member's id when the e-mail belongs to one. */
  memberId: string | null;
  email: string;
  outcome: 'signed_in' | 'invalid' | 'throttled' | 'signed_out';
  ip: string | null;
  /** For `throttled`: which count holds the attempt back, and for how long. */
  throttle?: { scope: SignInThrottleScope; retryAfterMs: number };
}

export type SignInListener = (event: SignInEvent) => void | Promise<void>;

export interface IdentityOptions {
  /** Waits after failed sign-ins (default MEMBER_SIGN_IN_THROTTLE). */
  throttle?: GuessThrottleRule;
  /** The application's clock (epoch ms); default Date.now. */
  now?: () => number;
  sessionLifetime?: SessionLifetime;
  /**
   * Called for every sign-in attempt and sign-out, and waited for (the audit entry is written before the
   * answer); a failing listener never blocks a sign-in.
   */
  onSignIn?: SignInListener;
  /**
   * The site whose API this identity serves, in a network (SITES_DIR): every member it resolves (sign-in,
   * session) carries their role in that site (member-store.ts membersSeenFrom). `installationHome`: the site
   * of members who name no home (default: `id`).
   */
  site?: { id: string; installationHome?: string };
  /**
   * The other houses whose lobby this API shows too (the network's, SITES_DIR): a lobby token made for one of
   * them is valid here and shows that house. Without it only tokens of `site` (or of any site) are.
   */
  lobbySites?: readonly string[];
}

/** The stores Identity works on, whatever database keeps them (records/records.ts picks them). */
export interface IdentityStores {
  members: MemberStore;
  /** The sessions, resolving to members through the store given. */
  sessionsOver(members: MemberStore): SessionStore;
  lobbyTokens: LobbyTokens;
  integrationTokens: IntegrationTokens;
  failures: SignInFailures;
}

/**
 * Everything about who someone is: members, sessions, lobby tokens, integration tokens and the waits after
 * failed sign-ins.
 */
export class Identity {
  readonly members: MemberStore;
  readonly sessions: SessionStore;
  readonly lobbyTokens: LobbyTokens;
  /** Tokens for integrations (Node-RED, scripts): not members, scopes instead of a role. */
  readonly integrationTokens: IntegrationTokens;
  readonly failures: SignInFailures;
  readonly now: () => number;
  #onSignIn: SignInListener | undefined;

  /**
   * On the given stores (their session lifetime and waits are theirs: `sessionLifetime` and `throttle` are
   * for a SQLite records file, on which Identity makes the stores itself).
   */
  constructor(source: RecordsDb | IdentityStores, options: IdentityOptions = {}) {
    const site = options.site;
    const seen = (stored: MemberStore) =>
      site ? membersSeenFrom(stored, site.id, site.installationHome ?? site.id) : stored;
    let lobbyTokens: LobbyTokens;
    if ('prepare' in source) {
      this.members = seen(new SqliteMemberStore(source));
      this.sessions = new SqliteSessionStore(
        source,
        this.members,
        options.sessionLifetime ?? DEFAULT_SESSION_LIFETIME,
      );
      lobbyTokens = new SqliteLobbyTokens(source);
      this.integrationTokens = new SqliteIntegrationTokens(source);
      this.failures = new SqliteSignInFailures(source, options.throttle);
    } else {
      this.members = seen(source.members);
      // The sessions resolve to members as this site sees them.
      this.sessions = source.sessionsOver(this.members);
      lobbyTokens = source.lobbyTokens;
      this.integrationTokens = source.integrationTokens;
      this.failures = source.failures;
    }
    // A lobby token made for a site this API does not serve shows nothing here; one made for another house
    // of the network (`lobbySites`) shows that house's lobby (api/lobby-routes.ts).
    const served = site ? [site.id, ...(options.lobbySites ?? [])] : undefined;
    const siteOf = async (token: string) => {
      const tokenSite = await lobbyTokens.siteOf(token);
      if (tokenSite === undefined || tokenSite === null || !served) return tokenSite;
      return served.includes(tokenSite) ? tokenSite : undefined;
    };
    this.lobbyTokens =
      site && served
        ? {
            create: (label, now, tokenSite) => lobbyTokens.create(label, now, tokenSite),
            verify: async (token, siteId) =>
              siteId !== undefined ? lobbyTokens.verify(token, siteId) : (await siteOf(token)) !== undefined,
            siteOf,
            revoke: (shownId, now) => lobbyTokens.revoke(shownId, now),
            list: () => lobbyTokens.list(),
          }
        : lobbyTokens;
    this.now = options.now ?? Date.now;
    this.#onSignIn = options.onSignIn;
  }

  /** Listens to sign-in events (the audit log, once wired). Replaces an earlier listener. */
  set onSignIn(listener: SignInListener | undefined) {
    this.#onSignIn = listener;
  }

  /**
   * Checks e-mail and password and starts a session. After failed attempts the next one waits (progressive,
   * per e-mail and client address, per address and per e-mail; access/guess-throttle.ts): a waiting attempt
   * is refused before its password is checked. E-mails that are nobody's are counted the same way.
   */
  async signIn(
    email: string,
    password: string,
    context: { ip?: string; now?: number } = {},
  ): Promise<SignInResult> {
    const now = context.now ?? this.now();
    const key = normaliseEmail(email).slice(0, 254);
    const address = clientNetwork(context.ip || 'unknown');
    const event = (
      outcome: SignInEvent['outcome'],
      memberId: string | null,
      throttle?: SignInEvent['throttle'],
    ) =>
      this.#emit({
        at: now,
        memberId,
        email: key,
        outcome,
        ip: context.ip ?? null,
        ...(throttle ? { throttle } : {}),
      });

    const attempt = await this.failures.attempt(key, address, now);
    if ('until' in attempt) {
      const wait = attempt;
      const retryAfterMs = wait.until - now;
      await event('throttled', (await this.members.findByEmail(key))?.id ?? null, {
        scope: wait.scope,
        retryAfterMs,
      });
      return { outcome: 'throttled', until: wait.until, retryAfterMs, scope: wait.scope };
    }
    const member =
      password.length <= MAX_PASSWORD_LENGTH ? await this.members.verify(key, password) : undefined;
    if (!member) {
      await event('invalid', (await this.members.findByEmail(key))?.id ?? null);
      return { outcome: 'invalid' };
    }
    await this.failures.signedIn(attempt);
    const session = await this.sessions.start(member.id, now);
    await event('signed_in', member.id);
    return { outcome: 'signed_in', member, ...session };
  }

  async signOut(token: string, context: { ip?: string; now?: number } = {}): Promise<void> {
    const member = await this.sessions.resolve(token, context.now ?? this.now());
    if (!(await this.sessions.end(token)) || !member) return;
    await this.#emit({
      at: context.now ?? this.now(),
      memberId: member.id,
      email: member.email,
      outcome: 'signed_out',
      ip: context.ip ?? null,
    });
  }

  async #emit(event: SignInEvent): Promise<void> {
    try {
      await this.#onSignIn?.(event);
    } catch {
      // The audit listener's own failure must not decide whether someone signs in.
    }
  }
}
