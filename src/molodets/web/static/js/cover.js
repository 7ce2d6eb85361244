// The cover frame picker: a strip of frames from the local clip with a slider over it; the big
// frame beside it follows the slider. The chosen time goes to the server as `cover_time_ms`,
// where the poster is cut from the original at that moment.

const THUMBS = 8;
const STEP_MS = 100;
// The server's choice when none is sent (videos/tasks.py): what the slider starts on.
const DEFAULT_COVER_MS = 1000;

/** Resolves once `video` has seeked to `seconds` (or failed to). */
function seek(video, seconds) {
  return new Promise((resolve) => {
    const done = () => {
      video.removeEventListener("seeked", done);
      video.removeEventListener("error", done);
      resolve();
    };
    video.addEventListener("seeked", done);
    video.addEventListener("error", done);
    video.currentTime = seconds;
  });
}

function once(target, name) {
  return new Promise((resolve) => target.addEventListener(name, resolve, { once: true }));
}

/** Whether `video` could read its clip's header (false for a file it cannot play). */
function loaded(video) {
  return Promise.race([once(video, "loadedmetadata").then(() => true), once(video, "error").then(() => false)]);
}

/**
 * A clip's length in seconds. MediaRecorder's WebM files carry none ("Infinity"): seeking far
 * past the end makes the browser find it; `knownMs` (the recorder's own count) is the fallback.
 */
async function durationOf(video, knownMs) {
  if (Number.isFinite(video.duration) && video.duration > 0) return video.duration;
  await seek(video, 1e7);
  const found = Number.isFinite(video.duration) && video.duration > 0 ? video.duration : null;
  await seek(video, 0);
  return found ?? (knownMs ? knownMs / 1000 : null);
}

export class CoverPicker {
  /**
   * @param {{root: HTMLElement, frame: HTMLVideoElement, thumbs: HTMLElement, range: HTMLInputElement}} el
   * @param {{template: string}} options  `template` is the slider's spoken value, "{time}" filled in
   */
  constructor(el, { template }) {
    this.el = el;
    this.template = template;
    this.url = null;
    this.durationMs = null;
    this.loads = 0;
    el.range.addEventListener("input", () => this.#show());
  }

  /** The chosen cover time, or null when the clip cannot be read here (the server picks). */
  get timeMs() {
    return this.durationMs === null ? null : Number(this.el.range.value);
  }

  /**
   * Show the picker for a new clip.
   * @param {File} file
   * @param {number|null} knownMs  the length when the page already knows it (a recording)
   */
  async load(file, knownMs = null) {
    const load = ++this.loads;
    this.clear();
    this.url = URL.createObjectURL(file);
    const { frame, range, thumbs, root } = this.el;
    frame.src = this.url;
    const ready = await loaded(frame);
    if (load !== this.loads || !ready) return;
    const seconds = await durationOf(frame, knownMs);
    if (load !== this.loads || !seconds) return;
    this.durationMs = Math.floor(seconds * 1000);
    const max = Math.max(0, Math.floor((this.durationMs - 1) / STEP_MS) * STEP_MS);
    range.max = String(max);
    range.step = String(STEP_MS);
    range.value = String(Math.min(DEFAULT_COVER_MS, Math.floor(this.durationMs / 2 / STEP_MS) * STEP_MS));
    root.hidden = false;
    await this.#show();
    const canvases = Array.from({ length: THUMBS }, () => {
      const canvas = document.createElement("canvas");
      canvas.width = 54;
      canvas.height = 96;
      return canvas;
    });
    thumbs.replaceChildren(...canvases);
    await this.#drawThumbs(file, canvases, seconds, load);
  }

  /** Drop the clip (a new one was chosen, or the video is published). */
  clear() {
    const { frame, thumbs, root } = this.el;
    root.hidden = true;
    this.durationMs = null;
    frame.removeAttribute("src");
    frame.load();
    thumbs.replaceChildren();
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
  }

  async #show() {
    const { range, frame } = this.el;
    const ms = Number(range.value);
    range.setAttribute("aria-valuetext", this.template.replace("{time}", clock(ms)));
    await seek(frame, ms / 1000);
  }

  /** The strip is drawn by a second, unseen player so the slider's frame never jumps around. */
  async #drawThumbs(file, canvases, seconds, load) {
    const video = document.createElement("video");
    video.muted = true;
    video.preload = "auto";
    video.playsInline = true;
    const url = URL.createObjectURL(file);
    video.src = url;
    try {
      if (!(await loaded(video))) return;
      if (!Number.isFinite(video.duration)) await seek(video, 1e7);
      for (const [index, canvas] of canvases.entries()) {
        if (load !== this.loads) return;
        await seek(video, ((index + 0.5) * seconds) / canvases.length);
        const context = canvas.getContext("2d");
        const scale = Math.max(canvas.width / video.videoWidth, canvas.height / video.videoHeight);
        const width = video.videoWidth * scale;
        const height = video.videoHeight * scale;
        context.drawImage(video, (canvas.width - width) / 2, (canvas.height - height) / 2, width, height);
        canvas.dataset.drawn = "";
      }
    } finally {
      video.removeAttribute("src");
      video.load();
      URL.revokeObjectURL(url);
    }
  }
}

/** 1234 ms as "0:01.2". */
function clock(ms) {
  const tenths = Math.floor(ms / 100);
  const seconds = Math.floor(tenths / 10);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}.${tenths % 10}`;
}
