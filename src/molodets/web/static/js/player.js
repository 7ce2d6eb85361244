// The swipe player (templates/_player.html; the contract other code relies on is in its data-*
// hooks and the `molodets:slide` event). One video per screen; a fixed pool of five slides is
// recycled as the viewer swipes: the one on screen, one behind it (kept for a quick swipe back)
// and two ahead (poster loaded, the head of the video in the HTTP cache so a swipe starts at
// once: heads.js). Slides further away release their video decoders, so memory stays flat however
// long the viewer watches.

import { CommentSheet } from "./comments.js";
import { FeedSource } from "./feed.js";
import { attachGestures } from "./gestures.js";
import { cachedHead, headBytes, wantHeads } from "./heads.js";
import { describeProgress, paintProgress, wireProgress } from "./progress.js";
import { chooseRendition, recordThroughput } from "./rendition.js";
import { fill, fillSlide, showCount, videoPath } from "./slides.js";
import { follow, showViewerState, toggle as toggleSocial } from "./social.js";
import { flushWatchEvents, startWatchEvents } from "./watch.js";

const BEHIND = 2;
const AHEAD = 2;
// Fetch the next page this many videos before the end.
const FETCH_AHEAD = 4;
const SOUND_KEY = "molodets:sound";
// Preload the clips ahead after this long even if the one on screen is still buffering, or once
// this much of it is buffered ahead of the playhead.
const PRELOAD_WAIT_MS = 3000;
const BUFFERED_AHEAD_S = 8;
const MIN_SAMPLE_BYTES = 64 * 1024;

const root = document.querySelector("[data-feed]");
const viewport = root.querySelector("[data-viewport]");
const template = root.querySelector("template[data-slide-template]");
const data = JSON.parse(document.getElementById("feed-data").textContent);
const strings = JSON.parse(document.getElementById("player-strings").textContent);
const params = new URLSearchParams(location.search);
// `?preload=0`: a benchmark baseline with nothing fetched ahead (contract).
const preloading = params.get("preload") !== "0";
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

const feed = new FeedSource(data, { beforeLoad: flushWatchEvents });
const soundButton = root.querySelector("[data-sound]");
const soundHint = root.querySelector("[data-sound-hint]");
const announcer = root.querySelector("[data-announce]");
const toast = root.querySelector("[data-toast]");

let active = 0;
let activatedAt = 0;
let preloadTimer = 0;
let soundWanted = readSound();
// The viewer has interacted with the page: unmuted playback is allowed from now on.
let activated = false;
// The browser refused to start a video with sound before that.
let soundBlocked = false;
const pool = [];

function readSound() {
  try {
    return localStorage.getItem(SOUND_KEY) === "on";
  } catch {
    return false;
  }
}

function writeSound(on) {
  try {
    localStorage.setItem(SOUND_KEY, on ? "on" : "off");
  } catch {
    // Private mode without storage: the choice lasts for this page only.
  }
}

// --- media -------------------------------------------------------------------------------------

function box() {
  const rect = viewport.getBoundingClientRect();
  return { width: rect.width || window.innerWidth, height: rect.height || window.innerHeight };
}

/**
 * Give the slide's video a source (the rendition chosen now) unless it already has this one.
 * "auto": it is on screen and downloads; "none": it is ahead, its head is fetched into the HTTP
 * cache (heads.js) and it downloads nothing until it is on screen. Returns the head to preload,
 * or null.
 */
function load(slide, item, preload) {
  const video = slide.querySelector("video");
  if (video.dataset.for !== item.id || !video.getAttribute("src")) {
    const rendition = chooseRendition(item.renditions, box(), provisionalBps());
    if (!rendition) return null;
    video.preload = preload;
    delete video.dataset.sampled;
    delete video.dataset.started;
    delete video.dataset.shown;
    video.src = rendition.url;
    video.dataset.rendition = rendition.name;
    video.dataset.for = item.id;
    video.dataset.bytes = String(rendition.size_bytes || 0);
    video.dataset.head = String(headBytes(rendition, item.duration_ms));
  } else if (preload === "auto") {
    video.preload = "auto";
  }
  if (preload === "auto" && !video.dataset.started) {
    // Its download starts now; what the head fetch put in the cache is not the link's speed.
    video.dataset.started = String(performance.now());
    video.dataset.cached = String(cachedHead(video.src));
  }
  // One that has played (the viewer went back) has more than its head already.
  return video.dataset.started ? null : { url: video.src, bytes: Number(video.dataset.head) || 0 };
}

/** Stop fetching and decoding: removing the source and calling load() frees the decoder. */
function release(slide) {
  const video = slide.querySelector("video");
  if (!video.getAttribute("src")) return;
  video.pause();
  video.removeAttribute("src");
  delete video.dataset.rendition;
  delete video.dataset.for;
  delete video.dataset.shown;
  video.load();
}

function play(video) {
  video.muted = !soundWanted || (soundBlocked && !activated);
  const attempt = video.play();
  if (!attempt) return;
  attempt.catch((error) => {
    if (error.name !== "NotAllowedError" || video.muted) return;
    // The browser refuses sound before the viewer has touched the page: play muted and turn the
    // sound on at the first touch or key press (the choice stays remembered).
    soundBlocked = true;
    video.muted = true;
    showSoundState();
    video.play().catch(() => {});
  });
}

// The rate of a video's own download: the share of the file buffered, less what came from the
// HTTP cache, over the time since it started; null until that is more than a few round trips'
// worth.
function downloadBps(video) {
  const total = Number(video?.dataset.bytes) || 0;
  if (!total || !video.dataset.started || !video.duration || !video.buffered.length) return null;
  const buffered = (total * video.buffered.end(video.buffered.length - 1)) / video.duration;
  const bytes = buffered - (Number(video.dataset.cached) || 0);
  const elapsed = (performance.now() - Number(video.dataset.started)) / 1000;
  return bytes >= MIN_SAMPLE_BYTES && elapsed > 0.02 ? (bytes * 8) / elapsed : null;
}

function sampleThroughput(video) {
  if (video.dataset.sampled) return;
  const bps = downloadBps(video);
  if (bps === null) return;
  video.dataset.sampled = "1";
  recordThroughput(bps);
}

// Before any download has finished: what the clip on screen has fetched so far, over the time
// it took (slow links are exactly where that is known soonest).
function provisionalBps() {
  return downloadBps(slideAt(active)?.querySelector("video"));
}

// The clips ahead are preloaded (and their posters fetched) once the one on screen plays and is
// buffered to its end (or far enough ahead, for a long one): it gets the whole link first, so a
// slow link does not stall it, and its download has measured the link by then, so the clips ahead
// get a rendition that fits. Measured (benchmarks/player.py, 1.6 Mb/s): the two posters ahead
// alone took 0.4 s of the link before the first frame.
function activeReady() {
  const video = slideAt(active)?.querySelector("video");
  if (!video || !video.getAttribute("src") || performance.now() - activatedAt > PRELOAD_WAIT_MS) return true;
  // Its first frame first (on loopback it is buffered to the end before that).
  if (!video.paused && !video.dataset.shown) return false;
  if (!video.duration || !video.buffered.length) return false;
  const end = video.buffered.end(video.buffered.length - 1);
  return end >= video.duration - 0.1 || end - video.currentTime >= BUFFERED_AHEAD_S;
}

// --- slides ------------------------------------------------------------------------------------

function newSlide() {
  const slide = template.content.firstElementChild.cloneNode(true);
  viewport.append(slide);
  wireSlide(slide);
  return slide;
}

function bind(slide, index) {
  slide.dataset.index = String(index);
  slide.classList.add("no-transition");
  const item = feed.items[index];
  if (slide.dataset.videoId !== item.id || slide.querySelector("video").dataset.for !== item.id) {
    release(slide);
    fillSlide(slide, item, { strings });
  }
  showViewerState(slide, item, data.viewer);
  requestAnimationFrame(() => requestAnimationFrame(() => slide.classList.remove("no-transition")));
}

// Here rather than in slides.js: modules a page imports are not versioned by content hash
// (templating.module_preloads), so a new player.js may meet a slides.js from the HTTP cache.
function showPoster(slide, item) {
  const video = slide.querySelector("video");
  if (!item.poster_url) video.removeAttribute("poster");
  else if (video.getAttribute("poster") !== item.poster_url) video.poster = item.poster_url;
}

/** Bind the pool to the videos around `active`, load and release media by distance. */
function layout() {
  const wanted = [];
  for (let index = active - BEHIND; index <= active + AHEAD; index += 1) {
    if (index >= 0 && index < feed.items.length) wanted.push(index);
  }
  const spare = pool.filter((slide) => !wanted.includes(indexOf(slide)));
  for (const index of wanted) {
    if (pool.some((slide) => indexOf(slide) === index)) continue;
    const slide = spare.pop() || newSlide();
    if (!pool.includes(slide)) pool.push(slide);
    bind(slide, index);
  }
  for (const slide of spare) {
    release(slide);
    slide.dataset.index = "";
    slide.hidden = true;
  }
  const heads = [];
  const ready = activeReady();
  for (const slide of pool) {
    const index = indexOf(slide);
    if (Number.isNaN(index)) continue;
    const distance = index - active;
    slide.hidden = false;
    slide.style.setProperty("--pos", String(distance));
    slide.inert = distance !== 0;
    if (distance === 0) slide.removeAttribute("aria-hidden");
    else slide.setAttribute("aria-hidden", "true");
    const item = feed.items[index];
    if (distance <= 0 || ready) showPoster(slide, item);
    if (distance === 0) load(slide, item, "auto");
    else if (distance > 0 && ready && preloading) heads[distance] = load(slide, item, "none");
    else if (distance < -1) release(slide);
    if (distance !== 0) slide.querySelector("video").pause();
  }
  // Until the clip on screen is buffered, it has the link to itself: a head being fetched stops
  // (the cache keeps what came) and goes on later.
  if (preloading) wantHeads(heads.filter(Boolean));
}

function indexOf(slide) {
  return slide.dataset.index ? Number(slide.dataset.index) : Number.NaN;
}

function slideAt(index) {
  return pool.find((slide) => indexOf(slide) === index);
}

const slidesOf = (item) => pool.filter((slide) => slide.dataset.videoId === item.id);
const comments = new CommentSheet(root.querySelector("[data-comments]"), { strings, slidesOf, viewer: data.viewer });

function activate({ announce = true } = {}) {
  const slide = slideAt(active);
  const item = feed.items[active];
  if (!slide || !item) return;
  for (const other of pool) other.toggleAttribute("data-active", other === slide);
  const video = slide.querySelector("video");
  slide.classList.remove("is-paused");
  setToggleLabel(slide, false);
  play(video);
  clearTimeout(preloadTimer);
  if (!activeReady()) preloadTimer = setTimeout(layout, PRELOAD_WAIT_MS + 10);
  followUrl(item);
  if (announce) {
    announcer.textContent = `${fill(strings.video_by, { name: item.author.display_name })}. ${item.caption || ""}`;
  }
  document.dispatchEvent(
    new CustomEvent("molodets:slide", { detail: { id: item.id, index: active, rendition: video.dataset.rendition } }),
  );
  if (active >= feed.items.length - FETCH_AHEAD) {
    feed
      .more()
      .then((added) => {
        if (added) layout();
      })
      .catch(() => showToast(strings.load_failed));
  }
  requestAnimationFrame(tick);
}

function go(delta) {
  const target = active + delta;
  if (target < 0) return;
  if (target >= feed.items.length) {
    // The next page is late (or the list has ended): ask for it and stay here.
    feed
      .more()
      .then((added) => {
        if (added) layout();
        else if (feed.ended) showToast(strings.the_end);
      })
      .catch(() => showToast(strings.load_failed));
    return;
  }
  const leaving = slideAt(active);
  const hadFocus = leaving && leaving.contains(document.activeElement);
  if (leaving) leaving.querySelector("video").pause();
  active = target;
  activatedAt = performance.now();
  layout();
  activate();
  if (hadFocus) slideAt(active).querySelector("[data-toggle]").focus({ preventScroll: true });
}

// The address follows the video on screen, so copying it shares this video and a reload comes
// back to it; replaceState keeps Back going to where the viewer came from.
function followUrl(item) {
  const keep = new URLSearchParams();
  for (const name of ["source", "preload"]) if (params.has(name)) keep.set(name, params.get(name));
  if (data.source === "profile") keep.set("source", "profile");
  const query = keep.toString();
  const url = videoPath(item) + (query ? `?${query}` : "");
  if (url === location.pathname + location.search) return;
  history.replaceState(history.state, "", url);
  // Forms that come back to this page (the language switch) come back to this video.
  for (const input of document.querySelectorAll("form input[name=next]")) input.value = url;
}

// --- controls ----------------------------------------------------------------------------------

function setToggleLabel(slide, paused) {
  slide.querySelector("[data-toggle]").setAttribute("aria-label", paused ? strings.play : strings.pause);
}

function toggle() {
  const slide = slideAt(active);
  if (!slide) return;
  const video = slide.querySelector("video");
  const paused = !video.paused;
  if (paused) video.pause();
  else play(video);
  slide.classList.toggle("is-paused", paused);
  setToggleLabel(slide, paused);
}

function showSoundState() {
  const video = slideAt(active)?.querySelector("video");
  const audible = Boolean(video && !video.muted);
  soundButton.setAttribute("aria-pressed", String(audible));
  soundButton.querySelector("[data-sound-label]").textContent = audible ? strings.sound_off : strings.sound_on;
  soundButton.classList.toggle("is-audible", audible);
  soundHint.hidden = audible || !soundWanted;
}

function toggleSound() {
  const video = slideAt(active)?.querySelector("video");
  soundWanted = !(video && !video.muted);
  activated = true;
  writeSound(soundWanted);
  if (video) {
    video.muted = !soundWanted;
    if (video.paused && !slideAt(active).classList.contains("is-paused")) play(video);
  }
  showSoundState();
}

function showToast(text) {
  toast.textContent = text;
  toast.hidden = false;
  clearTimeout(showToast.timer);
  showToast.timer = setTimeout(() => {
    toast.hidden = true;
  }, 2500);
}

async function share(item, slide) {
  const url = new URL(videoPath(item), location.origin).href;
  if (navigator.share) {
    try {
      await navigator.share({ url, title: fill(strings.video_by, { name: item.author.display_name }) });
    } catch {
      return; // dismissed: nothing shared, nothing to say
    }
  } else {
    try {
      await navigator.clipboard.writeText(url);
      showToast(strings.link_copied);
    } catch {
      showToast(fill(strings.copy_this, { url }));
      return;
    }
  }
  countShare(item, slide);
}

// A share (sheet used or link copied) counts on the server; the answer is the new total.
async function countShare(item, slide) {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content;
  try {
    const response = await fetch(`/api/v1/videos/${item.id}/shares`, {
      method: "POST",
      headers: csrf ? { "X-CSRF-Token": csrf } : {},
    });
    if (!response.ok) return; // over the per-viewer limit: the share still happened
    item.counts.shares = (await response.json()).shares;
    if (Number(slide.dataset.index) === feed.items.indexOf(item)) showCount(slide, "shares", item.counts.shares);
  } catch {
    // Offline: the link was shared anyway; the counter is not worth a retry.
  }
}

// The progress bar moves every frame while the active video plays, then the loop stops.
function tick() {
  const slide = slideAt(active);
  if (!slide) return;
  const video = slide.querySelector("video");
  paintProgress(slide, video);
  if (!video.paused) requestAnimationFrame(tick);
}

function wireSlide(slide) {
  const video = slide.querySelector("video");
  slide.querySelector("[data-toggle]").addEventListener("click", toggle);
  video.addEventListener("play", () => {
    if (slide.hasAttribute("data-active")) requestAnimationFrame(tick);
  });
  video.addEventListener("volumechange", () => {
    if (slide.hasAttribute("data-active")) showSoundState();
  });
  video.addEventListener("timeupdate", () => {
    if (slide.hasAttribute("data-active")) describeProgress(slide, video, strings);
  });
  const buffered = () => {
    sampleThroughput(video);
    if (slide.hasAttribute("data-active") && activeReady()) layout();
  };
  video.addEventListener("progress", buffered);
  video.addEventListener("canplaythrough", buffered);
  // Preloading waits for its first frame on screen (activeReady).
  video.addEventListener("playing", () => {
    const shown = () => {
      video.dataset.shown = "1";
      buffered();
    };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(shown);
    else shown();
  });

  wireProgress(slide, video, strings);

  for (const button of slide.querySelectorAll("[data-action]")) {
    button.addEventListener("click", () => {
      const item = feed.items[Number(slide.dataset.index)];
      if (!item) return;
      const action = button.dataset.action;
      if (action === "share") {
        share(item, slide);
      } else if (action === "not_interested") {
        // watch.js reports it (guests too); the feed moves on and learns before its next page.
        showToast(strings.not_interested_done);
        go(1);
      } else if (action === "comment" && !data.viewer) {
        comments.open(item); // guests read comments; the sheet offers to log in to write
      } else if (!data.viewer) {
        location.assign(data.login_url);
      } else if (action === "like" || action === "save") {
        toggleSocial(action, item, slidesOf);
      } else if (action === "comment") {
        comments.open(item);
      }
    });
  }
  const followButton = slide.querySelector("button[data-follow]");
  followButton?.addEventListener("click", () => {
    const item = feed.items[Number(slide.dataset.index)];
    if (item) follow(item, slidesOf, feed.items);
  });
  // A double tap likes (never unlikes), as in every short-video app; its two clicks have
  // toggled pause twice, so playback is as it was.
  slide.querySelector("[data-toggle]").addEventListener("dblclick", () => {
    const item = feed.items[Number(slide.dataset.index)];
    if (!item) return;
    if (!data.viewer) location.assign(data.login_url);
    else toggleSocial("like", item, slidesOf, true);
  });
}

// --- start -------------------------------------------------------------------------------------

function start() {
  activatedAt = performance.now();
  const first = viewport.querySelector("[data-slide]");
  first.dataset.index = "0";
  const firstVideo = first.querySelector("video");
  const firstRendition = feed.items[0].renditions.find((item) => item.name === firstVideo.dataset.rendition);
  firstVideo.dataset.for = feed.items[0].id;
  // Its download started with the page: time it from the navigation.
  firstVideo.dataset.started = "0";
  firstVideo.dataset.bytes = String(firstRendition?.size_bytes || 0);
  first.querySelector("video").removeAttribute("autoplay");
  pool.push(first);
  showViewerState(first, feed.items[0], data.viewer);
  wireSlide(first);
  // Autoplay may have started it before this script ran: its "playing" event is gone.
  if (!firstVideo.paused) firstVideo.dataset.shown = "1";
  layout();
  activate({ announce: false });
  showSoundState();

  attachGestures(viewport, {
    go,
    toggle,
    toggleSound,
    drag(px) {
      const dragging = px !== null && !reducedMotion.matches;
      viewport.classList.toggle("is-dragging", dragging);
      viewport.style.setProperty("--drag", dragging ? `${px}px` : "0px");
    },
  });
  root.querySelector("[data-prev]").addEventListener("click", () => go(-1));
  root.querySelector("[data-next]").addEventListener("click", () => go(1));
  soundButton.addEventListener("click", (event) => {
    event.stopPropagation();
    toggleSound();
  });
  // The first touch or key press lets the browser play sound: honour a remembered choice then.
  const unlock = (event) => {
    if (activated) return;
    activated = true;
    if (event.target instanceof Element && event.target.closest("[data-sound]")) return;
    const video = slideAt(active)?.querySelector("video");
    if (soundWanted && video && video.muted) {
      video.muted = false;
      showSoundState();
    }
  };
  document.addEventListener("pointerdown", unlock, { capture: true });
  document.addEventListener("keydown", unlock, { capture: true });
  // Hidden tab: stop; back: carry on (unless the viewer had paused).
  document.addEventListener("visibilitychange", () => {
    const slide = slideAt(active);
    if (!slide) return;
    const video = slide.querySelector("video");
    if (document.hidden) video.pause();
    else if (!slide.classList.contains("is-paused")) play(video);
  });
}

startWatchEvents(data.source);
start();
