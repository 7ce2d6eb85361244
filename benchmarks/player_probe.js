// Injected by benchmarks/player.py into every page before the page's own scripts: it follows
// each <video> from the moment it exists (requestVideoFrameCallback on every presented frame,
// waiting/playing events), the key presses and the player's molodets:slide events, so the first
// frame is caught whatever order the player does things in. Times are ms since navigation start.
(() => {
  const records = new WeakMap();
  const keys = [];
  const slides = [];
  const now = () => performance.now();
  function watch(video) {
    if (records.has(video)) return;
    const record = { frames: [], waiting: [], seekWaits: [], playing: [] };
    records.set(video, record);
    const onFrame = (_now, meta) => {
      record.frames.push(meta.expectedDisplayTime);
      if (record.frames.length > 2000) record.frames.splice(0, 1000);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
    // A looping video seeks back to 0 and may wait there: a hitch, but not the network's.
    video.addEventListener("waiting", () => (video.seeking ? record.seekWaits : record.waiting).push(now()));
    video.addEventListener("playing", () => record.playing.push(now()));
  }
  function scan(node) {
    if (node.nodeType !== 1) return;
    if (node.localName === "video") watch(node);
    else for (const video of node.querySelectorAll("video")) watch(video);
  }
  new MutationObserver((changes) => {
    for (const change of changes) for (const node of change.addedNodes) scan(node);
  }).observe(document, { childList: true, subtree: true });
  document.addEventListener("loadstart", (e) => {
    if (e.target instanceof HTMLVideoElement) watch(e.target);
  }, true);
  // The event's own time stamp is when the key was pressed, before the page's queue saw it.
  addEventListener("keydown", (e) => keys.push(e.timeStamp > 0 ? e.timeStamp : now()), true);
  document.addEventListener("molodets:slide", (e) => slides.push({ at: now(), id: String(e.detail?.id) }));
  function active() {
    const video = document.querySelector("[data-slide][data-active] video");
    const slide = video?.closest("[data-slide]");
    return video && slide ? { slide, video, record: records.get(video) } : null;
  }
  window.__bench = {
    lastKey: () => keys.at(-1) ?? null,
    // The active video's first frame presented after `since` (ms since navigation start), once
    // a slide other than `notId` is active and announced.
    frameAfter(since, notId) {
      const a = active();
      if (!a || !a.record) return null;
      const id = a.slide.dataset.videoId;
      if (id === notId) return null;
      if (notId !== null && !slides.some((s) => s.id === id && s.at >= since)) return null;
      const frame = a.record.frames.find((t) => t > since);
      if (frame === undefined) return null;
      return { id, rendition: a.video.dataset.rendition || "?", frame, duration: a.video.duration };
    },
    stalls(since) {
      const a = active();
      const t = now();
      const waits = (a?.record?.waiting ?? []).filter((w) => w > since);
      const ms = waits.reduce((sum, w) => sum + ((a.record.playing.find((p) => p > w) ?? t) - w), 0);
      const seekWaits = (a?.record?.seekWaits ?? []).filter((w) => w > since).length;
      return { count: waits.length, ms, seekWaits };
    },
    state() {
      const slide = document.querySelector("[data-slide][data-active]");
      return {
        feed: !!document.querySelector("[data-feed]"),
        slides: document.querySelectorAll("[data-slide]").length,
        active: slide?.dataset.videoId ?? null,
        video: !!slide?.querySelector("video"),
        frames: active()?.record?.frames.length ?? 0,
        slideEvents: slides.length,
        keys: keys.length,
      };
    },
    async bare(src) {
      const video = document.createElement("video");
      Object.assign(video, { muted: true, playsInline: true, preload: "auto" });
      video.style.cssText = "position:fixed;inset:0;width:100%;height:100%;background:#000";
      document.body.append(video);
      const started = now();
      const frame = new Promise((resolve) => video.requestVideoFrameCallback((_n, m) => resolve(m)));
      video.src = src;
      video.play().catch(() => {});
      return (await frame).expectedDisplayTime - started;
    },
  };
})();
