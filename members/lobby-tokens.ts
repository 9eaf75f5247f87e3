/**
 * Read-only tokens for lobby screens: they show public availability and nothing else. The token is shown
 * once when created; only its SHA-256 is kept (`sqlite-lobby-tokens.ts` in the records database).
 */

/** How a lobby token is named on the command line and in listings: the start of its SHA-256, never the token. */
export const SHOWN_ID_LENGTH = 12;

export interface LobbyTokenListing {
  id: string;
  label: string;
  createdAt: number;
  revokedAt: number | null;
  /** The site whose lobby it shows, in a network; null: whichever site the API serves. */
  site: string | null;
}

export interface LobbyTokens {
  /**
   * A new token with its shown id; the token itself is handed out this once. `site`: the one site whose lobby
   * it shows (a network); absent, any site's.
   */
  create(label: string, now?: number, site?: string): Promise<{ id: string; token: string }>;
  /** Whether the token is one of ours, not revoked, and (given `siteId`) not bound to another site. */
  verify(token: string, siteId?: string): Promise<boolean>;
  /**
   * The house whose lobby a valid token shows: its site, or null for a token of any site (made without
   * `--site`); undefined for a token that is not one of ours or is revoked.
   */
  siteOf(token: string): Promise<string | null | undefined>;
  /** Revokes by the shown id (a prefix of the hash); false when no single unrevoked token has it. */
  revoke(shownId: string, now?: number): Promise<boolean>;
  list(): Promise<LobbyTokenListing[]>;
}
