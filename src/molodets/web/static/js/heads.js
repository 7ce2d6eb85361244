// The heads of the clips ahead: their first seconds, fetched by the player itself with an HTTP
// Range request, one at a time, nearest first. They land in the browser's HTTP cache; the slide's
// <video> has its source with preload="none" and reads the head from there when it becomes
// active, so a swipe starts at once, and a viewer who stops watching has paid for heads only.
//
// Why not <video preload>: Chromium buffers at least 2 MB ahead of where it reads whatever
// `preload` says ("metadata" stops only after that), so an element with a source downloads a
// whole short clip. Measured (benchmarks/player.py): 1.2 MB per page load for the "heads" of
// the next two clips on loopback, 0.8 MB at 12 Mb/s.
//
// Media on another origin (a CDN) needs CORS for this fetch; without it the fetch fails and the
// element fetches the whole clip itself when it becomes active (a slower start, nothing worse).

// As benchmarks/player.py budgets a head: enough to start at once and play on while the rest
// streams in.
const HEAD_SECONDS = 2;

// url -> bytes of its head now in the HTTP cache; 0 after a failure, so it is not asked again
// (this list is looked at on every progress event of the video on screen).
const fetched = new Map();
let wanted = []; // [{url, bytes}], nearest clip first
let current = null; // the fetch under way: {url, controller}

/** The size of a rendition's head in bytes, or 0 when its size or the clip's length is unknown. */
export function headBytes(rendition, durationMs) {
  const size = rendition.size_bytes || 0;
  if (!size || !durationMs) return 0;
  return Math.ceil(size * Math.min(1, (HEAD_SECONDS * 1000) / durationMs));
}

/** Bytes of this URL's head already in the HTTP cache (0 if none). */
export function cachedHead(url) {
  return fetched.get(url) || 0;
}

/**
 * Fetch these heads, nearest first, one at a time. A head asked for before and no longer in the
 * list is dropped, and its fetch is stopped if it is under way: the clip has become active (its
 * video fetches the rest from where the cache ends) or the viewer has gone back.
 * @param {Array<{url: string, bytes: number}>} heads
 */
export function wantHeads(heads) {
  wanted = heads.filter((head) => head.bytes > 0 && !fetched.has(head.url));
  if (current && !wanted.some((head) => head.url === current.url)) current.controller.abort();
  wanted = wanted.filter((head) => head.url !== current?.url);
  fetchNext();
}

function fetchNext() {
  if (current || !wanted.length) return;
  const head = wanted.shift();
  const controller = new AbortController();
  current = { url: head.url, controller };
  fetch(head.url, {
    headers: { Range: `bytes=0-${head.bytes - 1}` },
    credentials: "same-origin",
    signal: controller.signal,
  })
    // Read to the end: the cache keeps what has been read.
    .then((response) => {
      if (response.status === 206) return response.arrayBuffer();
      // No range (the whole file, or an error): not worth it for a head.
      response.body?.cancel();
      return null;
    })
    .then((body) => fetched.set(head.url, body ? body.byteLength : 0))
    .catch(() => {
      // Offline or refused (CORS): the video fetches its clip itself when it plays. A stopped
      // fetch may be asked for again.
      if (!controller.signal.aborted) fetched.set(head.url, 0);
    })
    .finally(() => {
      current = null;
      fetchNext();
    });
}
