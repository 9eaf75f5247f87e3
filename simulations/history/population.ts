import type { Identity } from '../../members/identity.ts';

/**
 * Who books in the simulated building: a population of members who cannot sign in, so that the demo
 * members (who sign in) keep a short list of their own.
 */

/** How many people the simulated building's bookings belong to. */
export const SIMULATED_MEMBERS = 40;

export const simulatedMemberEmail = (siteId: string, n: number) =>
  `sim-${String(n).padStart(2, '0')}@${siteId}.local`;

/**
 * The simulated building's population: SIMULATED_MEMBERS members who own its bookings, so that the three
 * demo members (who sign in) keep a short list. Role member, and no password at all: they cannot sign
 * in, so no secret of theirs exists to store or print. Made once; returns their ids, in number order.
 */
export async function ensureSimulatedMembers(identity: Identity, siteId: string): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 1; n <= SIMULATED_MEMBERS; n++) {
    const email = simulatedMemberEmail(siteId, n);
    const member =
      (await identity.members.findByEmail(email)) ??
      (await identity.members.createWithoutSignIn({
        email,
        role: 'member',
        name: `Simuliertes Mitglied ${String(n).padStart(2, '0')}`,
      }));
    ids.push(member.id);
  }
  return ids;
}

/** The demo members who sign in (Ada, Ben, Cem): each keeps a few past bookings. */
export async function demoMemberIds(identity: Identity, siteId: string): Promise<string[]> {
  const ids: string[] = [];
  for (const local of ['ada', 'ben', 'cem']) {
    const member = await identity.members.findByEmail(`${local}@${siteId}.local`);
    if (member) ids.push(member.id);
  }
  return ids;
}
