import { createHash, randomBytes } from 'node:crypto';

/** A bearer secret: 32 random bytes, URL-safe. Only its SHA-256 is stored, so a leaked database opens nothing. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function tokenId(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
