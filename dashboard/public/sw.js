/**
 * The member page's service worker: it lets the installed app start without a network, and nothing more.
 * It keeps only the app shell (the page HTML and the hashed /assets/ files), never an /api/ answer: those
 * carry personal data (bookings, the member's name) and must not outlive a sign-out on a shared phone.
 * The page HTML is fetched from the network first, so a new build reaches everyone at the next load; the
 * cached copy is only the fallback when offline. Hashed assets never change under their name, so they are
 * served from the cache once fetched.
 */
const SHELL_CACHE = 'wesprint-shell-v1';
/** The dashboard's page paths (api/dashboard-pages.ts); all serve the same index.html. */
const PAGE_PATHS = ['/', '/lobby', '/facility', '/board/report'];
const SHELL_KEY = '/';
/** Each build brings new hashed assets; the oldest beyond this many go, so the cache cannot grow forever. */
const MAX_ASSETS = 60;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(SHELL_CACHE)
      .then((cache) => cache.add(new Request(SHELL_KEY, { cache: 'no-cache' })))
      .catch(() => undefined)
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== SHELL_CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

function isPage(url) {
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
  return PAGE_PATHS.includes(path);
}

async function pageNetworkFirst(request) {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(SHELL_KEY, response.clone());
    return response;
  } catch (err) {
    const cached = await cache.match(SHELL_KEY);
    if (cached) return cached;
    throw err;
  }
}

async function assetCacheFirst(request) {
  const cache = await caches.open(SHELL_CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === 'basic') {
    await cache.put(request, response.clone());
    const assets = (await cache.keys()).filter((r) => new URL(r.url).pathname.startsWith('/assets/'));
    await Promise.all(assets.slice(0, Math.max(0, assets.length - MAX_ASSETS)).map((r) => cache.delete(r)));
  }
  return response;
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  // Other origins, the API (personal data) and the API docs: straight to the network, never stored.
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/')) return;
  if (request.mode === 'navigate' && isPage(url)) {
    event.respondWith(pageNetworkFirst(request));
  } else if (url.pathname.startsWith('/assets/')) {
    event.respondWith(assetCacheFirst(request));
  }
});
