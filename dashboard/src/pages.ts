import type { Component } from 'svelte';

/**
 * The dashboard's pages by path. The API serves the same index.html at each of these paths
 * (api/dashboard-pages.ts keeps the same list); each page is its own chunk, so the lobby screen does not
 * load Chart.js.
 */
export const PAGES: Record<string, () => Promise<{ default: Component }>> = {
  '/': () => import('./pages/member/MemberPage.svelte'),
  '/lobby': () => import('./pages/lobby/LobbyPage.svelte'),
  '/facility': () => import('./pages/facility/FacilityPage.svelte'),
  '/board/report': () => import('./pages/board/BoardReportPage.svelte'),
  '/network/report': () => import('./pages/network/NetworkReportPage.svelte'),
  '/board/common-good': () => import('./pages/common-good/CommonGoodPage.svelte'),
  '/events': () => import('./pages/events/EventsPage.svelte'),
  '/key': () => import('./pages/key/KeyPage.svelte'),
};

export function pageFor(pathname: string): (() => Promise<{ default: Component }>) | undefined {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  return PAGES[path];
}
