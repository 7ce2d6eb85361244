// The service worker: keeps the app shell (styles, scripts, icons, the offline page) so the app
// opens without a network and shows a friendly page instead of the browser's error.
//
// Served by web/pwa.py from /sw.js, which puts `CONFIG` in front of this file: `version` (a hash
// of every static file, so each deploy installs a new worker and drops the old cache), `shell`
// (the versioned /static/ URLs to keep) and `offline` (the offline page's URL per language).
//
// Never kept: media (/media/: large, ranged, and private ones are signed per viewer), the API
// (/api/: live data, uploads) and pages themselves (they are personal and carry CSRF tokens).
/* global CONFIG */

const CACHE_PREFIX = "molodets-shell-";
const CACHE = CACHE_PREFIX + CONFIG.version;
const LANG_KEY = "/__molodets/lang"; // a tiny cached response remembering the reader's language
const NEVER = ["/media/", "/api/", "/sw.js"];

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll([...CONFIG.shell, ...Object.values(CONFIG.offline)]);
      // A new deploy takes over at once: every shell URL is versioned, so open pages keep working.
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      const old = names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE);
      // Keep the language the reader chose across versions.
      const lang = await caches.match(LANG_KEY);
      await Promise.all(old.map((name) => caches.delete(name)));
      if (lang) await (await caches.open(CACHE)).put(LANG_KEY, lang);
      // Navigation preload: the page request starts while the worker boots, so having a worker
      // costs a page load (and the feed's first frame) no extra round of waiting.
      if (self.registration.navigationPreload) await self.registration.navigationPreload.enable();
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  const { type, lang } = event.data || {};
  if (type !== "lang" || !(lang in CONFIG.offline)) return;
  event.waitUntil(caches.open(CACHE).then((cache) => cache.put(LANG_KEY, new Response(lang))));
});

async function offlinePage() {
  const remembered = await caches.match(LANG_KEY);
  let lang = remembered ? await remembered.text() : null;
  if (!(lang in CONFIG.offline)) {
    const preferred = (self.navigator.languages || []).map((tag) => tag.slice(0, 2).toLowerCase());
    lang = preferred.find((code) => code in CONFIG.offline) || CONFIG.defaultLocale;
  }
  return (await caches.match(CONFIG.offline[lang])) || Response.error();
}

// Pages: always the network (they change and are personal); the offline page when it fails.
async function networkFirstPage(event) {
  try {
    return (await event.preloadResponse) || (await fetch(event.request));
  } catch {
    return offlinePage();
  }
}

// Versioned static files never change under one URL: the cache answers, the network fills gaps.
async function cacheFirstStatic(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && new URL(request.url).searchParams.has("v")) {
    await cache.put(request, response.clone());
  }
  return response;
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (NEVER.some((prefix) => url.pathname.startsWith(prefix))) return; // straight to the network
  if (request.mode === "navigate") {
    event.respondWith(networkFirstPage(event));
  } else if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirstStatic(request));
  }
});
