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
}

export interface LobbyTokens {
  /** A new token with its shown id; the token itself is handed out this once. */
  create(label: string, now?: number): Promise<{ id: string; token: string }>;
  /** Whether the token is one of ours and not revoked. */
  verify(token: string): Promise<boolean>;
  /** Revokes by the shown id (a prefix of the hash); false when no single unrevoked token has it. */
  revoke(shownId: string, now?: number): Promise<boolean>;
  list(): Promise<LobbyTokenListing[]>;
}
