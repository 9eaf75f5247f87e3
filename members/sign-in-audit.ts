import type { AuditLog } from '../access/audit-log.ts';
import type { SignInEvent } from './identity.ts';

const REASON: Record<SignInEvent['outcome'], string> = {
  signed_in: 'password',
  invalid: 'wrong_credentials',
  throttled: 'throttled',
  signed_out: 'sign_out',
};

/**
 * Sign-ins and sign-outs into the access audit log: action `login`/`logout`, the member as actor when the
 * e-mail is a member's (null otherwise), the typed e-mail and client address in the detail (so guessing
 * at unknown accounts shows too); a throttled attempt also which count held it back and for how many
 * seconds. Never a password.
 */
export function auditSignIns(audit: AuditLog): (event: SignInEvent) => Promise<void> {
  return async (event) => {
    await audit.record({
      at: event.at,
      actor: event.memberId,
      action: event.outcome === 'signed_out' ? 'logout' : 'login',
      target: null,
      decision: event.outcome === 'signed_in' || event.outcome === 'signed_out' ? 'granted' : 'denied',
      reason: REASON[event.outcome],
      detail: {
        email: event.email,
        ip: event.ip,
        ...(event.throttle
          ? { throttle: event.throttle.scope, retryAfterS: Math.ceil(event.throttle.retryAfterMs / 1000) }
          : {}),
      },
    });
  };
}
