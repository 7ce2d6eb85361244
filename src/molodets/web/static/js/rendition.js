// Which rendition to play: as sharp as the player's box needs (CSS pixels × devicePixelRatio),
// then stepped down until its bitrate fits the measured throughput with headroom. Chosen when a
// video is preloaded or becomes active, never switched mid-play.

// A rendition's bitrate must fit this many times into the throughput: the next two clips are
// fetched at the same time as the one on screen.
const HEADROOM = 1.5;
// Renditions slightly smaller than the box still look sharp; a full rung up costs 2× the bytes.
const UPSCALE_OK = 0.85;
// Media fetches smaller than this measure latency rather than throughput.
const MIN_SAMPLE_BYTES = 64 * 1024;

let samples = [];

/** Record a throughput sample (bits per second) measured by the player itself. */
export function recordThroughput(bitsPerSecond) {
  if (!Number.isFinite(bitsPerSecond) || bitsPerSecond <= 0) return;
  samples = [...samples.slice(-7), bitsPerSecond];
}

function resourceTimingBps() {
  // Media fetches that report their sizes (same origin, or Timing-Allow-Origin on a CDN) and
  // came over the network: a head asked for again is answered by the HTTP cache at ~100 Mb/s.
  const entries = performance
    .getEntriesByType("resource")
    .filter(
      (entry) =>
        entry.name.includes("/media/") && entry.encodedBodySize >= MIN_SAMPLE_BYTES && entry.transferSize > 0,
    )
    .slice(-6);
  const rates = entries
    .map((entry) => (entry.encodedBodySize * 8) / Math.max(0.001, (entry.responseEnd - entry.responseStart) / 1000))
    .filter((rate) => Number.isFinite(rate) && rate > 0);
  return rates;
}

/** The throughput estimate in bits per second, or null when nothing is known. */
export function throughputBps() {
  const rates = [...resourceTimingBps(), ...samples];
  if (rates.length) {
    // The median: one burst from the cache or one stalled fetch does not swing the choice.
    rates.sort((a, b) => a - b);
    return rates[Math.floor(rates.length / 2)];
  }
  // Before the first media fetch: the browser's own estimate, trusted only when it says the link
  // is slow ("4g" covers everything from a few Mb/s up, and its figure is a coarse default).
  const connection = navigator.connection;
  if (connection && connection.downlink > 0 && connection.effectiveType && connection.effectiveType !== "4g") {
    return connection.downlink * 1e6;
  }
  return null;
}

function needPixels(rendition, box, dpr) {
  const aspect = rendition.width / rendition.height;
  // Portrait clips fill the box (object-fit: cover), landscape ones fit inside it (contain).
  const shown = aspect < 1 ? Math.max(box.width, box.height * aspect) : Math.min(box.width, box.height * aspect);
  return shown * dpr;
}

/**
 * @param {Array<{name: string, width: number, height: number, bitrate: number, url: string}>} renditions
 * @param {{width: number, height: number}} box the player's size in CSS pixels
 * @param {number|null} provisional a throughput estimate to use when nothing has been measured
 */
export function chooseRendition(renditions, box, provisional = null) {
  if (!renditions.length) return null;
  const ladder = [...renditions].sort((a, b) => a.width * a.height - b.width * b.height);
  if (navigator.connection && navigator.connection.saveData) return ladder[0];
  const dpr = Math.min(window.devicePixelRatio || 1, 3);
  let index = ladder.findIndex((item) => item.width >= needPixels(item, box, dpr) * UPSCALE_OK);
  if (index < 0) index = ladder.length - 1;
  const bps = throughputBps() ?? provisional;
  if (bps) {
    while (index > 0 && ladder[index].bitrate * HEADROOM > bps) index -= 1;
  }
  return ladder[index];
}
