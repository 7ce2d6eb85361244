// Watch events for the recommender (docs/feed.md): what the viewer does with each video on
// screen, batched to POST /api/v1/events, and sent with navigator.sendBeacon when the page is
// hidden (a beacon cannot set headers, so it carries the CSRF token in a form).
//
// One "viewing" starts each time a video becomes the active slide (`molodets:slide`). It reports
// impression, play, progress (every few seconds of watching, with the total watched and loops),
// complete (the end reached once), replay (each loop after that), skip (left within 3 s),
// pause, unmute, and the feed's like / share / comment / follow / profile visit / not interested.

const ENDPOINT = "/api/v1/events";
const BATCH_MAX = 50;
const FLUSH_MS = 10_000;
const PROGRESS_EVERY_MS = 5_000;
const SKIP_MS = 3_000;
const SOURCES = new Set(["for_you", "following", "profile", "hashtag", "search", "sound", "link"]);

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

let queue = [];
let flushTimer = 0;
let viewing = null;

function push(type, videoId, extra = {}) {
  queue.push({ type, video_id: videoId, ts: Date.now(), ...extra });
  if (queue.length >= BATCH_MAX) flush();
  else if (!flushTimer) flushTimer = setTimeout(flush, FLUSH_MS);
}

function flush({ beacon = false, written = false } = {}) {
  clearTimeout(flushTimer);
  flushTimer = 0;
  if (!queue.length) return Promise.resolve();
  const events = queue.splice(0, 100);
  const body = JSON.stringify({ events });
  if (beacon && navigator.sendBeacon) {
    const form = new URLSearchParams({ events: body, csrf_token: csrf() });
    if (navigator.sendBeacon(ENDPOINT, form)) return Promise.resolve();
  }
  return fetch(written ? `${ENDPOINT}?wait=true` : ENDPOINT, {
    method: "POST",
    credentials: "same-origin",
    keepalive: true,
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
    body,
  }).catch(() => {
    // Offline: these events are lost; the next ones will be sent.
  });
}

// --- one viewing ----------------------------------------------------------------------------

function watched(state) {
  return Math.round(state.watchedMs);
}

function endViewing() {
  const state = viewing;
  if (!state) return;
  viewing = null;
  state.video.removeEventListener("timeupdate", state.onTime);
  state.video.removeEventListener("playing", state.onPlaying);
  state.video.removeEventListener("pause", state.onPause);
  state.video.removeEventListener("volumechange", state.onVolume);
  const extra = { watched_ms: watched(state), loops: state.loops, source: state.source };
  if (state.watchedMs < SKIP_MS && !state.completed) push("skip", state.id, extra);
  else push("progress", state.id, extra);
}

function startViewing(id, video, source) {
  endViewing();
  const state = {
    id,
    video,
    source,
    watchedMs: 0,
    loops: 0,
    lastTime: video.currentTime || 0,
    reportedAt: 0,
    played: false,
    completed: false,
    muted: video.muted,
  };
  const report = (type, extra = {}) => push(type, id, { source, ...extra });
  state.onPlaying = () => {
    state.lastTime = video.currentTime;
    if (!state.played) {
      state.played = true;
      report("play");
    }
  };
  state.onTime = () => {
    const now = video.currentTime;
    const duration = video.duration || 0;
    if (now + 0.5 < state.lastTime) {
      // Looped back to the start (the player loops): the end was reached.
      state.watchedMs += Math.max(0, duration - state.lastTime) * 1000;
      state.loops += 1;
      if (!state.completed) {
        state.completed = true;
        report("complete", { watched_ms: watched(state), loops: state.loops });
      } else {
        report("replay", { watched_ms: watched(state), loops: state.loops });
      }
      state.watchedMs += now * 1000;
    } else if (now > state.lastTime) {
      state.watchedMs += (now - state.lastTime) * 1000;
    }
    state.lastTime = now;
    if (state.watchedMs - state.reportedAt >= PROGRESS_EVERY_MS) {
      state.reportedAt = state.watchedMs;
      report("progress", { watched_ms: watched(state), loops: state.loops });
    }
  };
  state.onPause = () => {
    if (!document.hidden && viewing === state && video.closest("[data-slide]")?.classList.contains("is-paused")) {
      report("pause", { watched_ms: watched(state), loops: state.loops });
    }
  };
  state.onVolume = () => {
    if (state.muted && !video.muted) report("unmute");
    state.muted = video.muted;
  };
  video.addEventListener("timeupdate", state.onTime);
  video.addEventListener("playing", state.onPlaying);
  video.addEventListener("pause", state.onPause);
  video.addEventListener("volumechange", state.onVolume);
  viewing = state;
  report("impression");
  if (!video.paused && video.currentTime > 0) state.onPlaying();
}

// --- the feed's own actions -------------------------------------------------------------------

function onClick(event) {
  if (!viewing || !(event.target instanceof Element)) return;
  const slide = event.target.closest("[data-slide][data-active]");
  if (!slide) return;
  const report = (type) => push(type, viewing.id, { source: viewing.source });
  const action = event.target.closest("[data-action]");
  if (action) {
    const kind = action.dataset.action;
    // Read before the player's handler flips it: a like, not an unlike.
    if (kind === "like" && action.getAttribute("aria-pressed") !== "true") report("like");
    else if (kind === "share" || kind === "comment" || kind === "not_interested") report(kind);
    return;
  }
  if (event.target.closest("button[data-follow]")) report("follow");
  else if (event.target.closest('a[href^="/@"]')) report("profile_visit");
}

/** Send what is queued now and resolve once it is written (before asking for the next page,
 *  which should reflect it whichever web process builds it); never rejects. The viewing on
 *  screen reports its progress so far first. */
export function flushWatchEvents() {
  if (viewing) {
    const state = viewing;
    push("progress", state.id, { watched_ms: watched(state), loops: state.loops, source: state.source });
    state.reportedAt = state.watchedMs;
  }
  return flush({ written: true });
}

/** Start reporting for the player. `source` is the feed's (for_you, following, profile...). */
export function startWatchEvents(source) {
  const feedSource = SOURCES.has(source) ? source : undefined;
  const linked = location.pathname.includes("/video/") && !new URLSearchParams(location.search).has("source");
  let first = true;
  document.addEventListener("molodets:slide", (event) => {
    const video = document.querySelector("[data-slide][data-active] video");
    if (!video) return;
    // A shared link's own video came from the link; what follows it, from the feed.
    const viewingSource = first && linked ? "link" : feedSource;
    first = false;
    startViewing(String(event.detail.id), video, viewingSource);
  });
  document.addEventListener("click", onClick, { capture: true });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      if (viewing) {
        const state = viewing;
        push("progress", state.id, { watched_ms: watched(state), loops: state.loops, source: state.source });
        state.reportedAt = state.watchedMs;
      }
      flush({ beacon: true });
    }
  });
  window.addEventListener("pagehide", () => flush({ beacon: true }));
}
