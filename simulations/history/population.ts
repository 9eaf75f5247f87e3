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
 *
 * In a network (SITES_DIR) every house has a population of its own, at home there: `homeSite` is the
 * house for every house but the installation's home site (whose members name none, as a single
 * building's). Their e-mails carry the house, so no two houses' members are one.
 */
export async function ensureSimulatedMembers(
  identity: Identity,
  siteId: string,
  options: { homeSite?: string } = {},
): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 1; n <= SIMULATED_MEMBERS; n++) {
    const email = simulatedMemberEmail(siteId, n);
    const found = await identity.members.findByEmail(email);
    // One made before its house had a population of its own names no home site: it is given its house.
    const settled = found && (options.homeSite === undefined || found.homeSite !== undefined);
    const member = settled
      ? found
      : await identity.members.createWithoutSignIn({
          email,
          role: 'member',
          name: `Simuliertes Mitglied ${String(n).padStart(2, '0')}`,
          ...(options.homeSite !== undefined ? { homeSite: options.homeSite } : {}),
        });
    ids.push(member.id);
  }
  return ids;
}

/** How many of a house's simulated members now and then book in the network's other houses, as guests. */
export const VISITING_MEMBERS = 3;

/**
 * The simulated members of the other houses who come to `siteId` as guests: the first VISITING_MEMBERS of
 * each other house's population (`populations`: each house's ids, by site). Which spaces they book is the
 * house's `guests` rules' (booking-habits.ts `giveToGuests`).
 */
export function visitorsOf(
  siteId: string,
  populations: ReadonlyMap<string, readonly string[]>,
): { from: string; members: readonly string[] }[] {
  return [...populations]
    .filter(([from]) => from !== siteId)
    .map(([from, members]) => ({ from, members: members.slice(0, VISITING_MEMBERS) }));
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
