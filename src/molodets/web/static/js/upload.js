// The creator's upload page: the chosen clip plays at once from the local file, uploads (tus)
// while the caption is written, becomes a video on Publish, and its processing is followed live;
// the server's version replaces the local one only once it can play, so the screen is never
// blank while the creator waits.

import { TusError, TusUpload, uploadKey } from "./tus.js";

const VIDEOS_API = "/api/v1/videos";
// Codes that mean the upload cannot become a video any more: upload the file again.
const UPLOAD_LOST = new Set(["upload_not_found", "upload_expired", "upload_consumed"]);
// Mirrors the server's hashtag rule (videos/service.py): letters of any script, digits, "_".
const HASHTAG = /(?<![\p{L}\p{N}_#])#([\p{L}\p{N}_]{1,100})/gu;
// While the progress stream is refused or broken, ask this often instead.
const POLL_MS = 2000;

/**
 * Fill `{name}` slots of a message from the page's strings.
 * @param {string} template
 * @param {Record<string, string|number>} values
 */
function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (slot, name) => (name in values ? String(values[name]) : slot));
}

class UploadPage {
  /** @param {HTMLElement} root */
  constructor(root) {
    this.root = root;
    this.strings = JSON.parse(document.getElementById("upload-strings").textContent);
    this.locale = document.documentElement.lang || "en";
    this.csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";
    const $ = (name) => root.querySelector(`[data-${name}]`);
    this.el = {
      file: $("file"),
      dropzone: $("dropzone"),
      preview: $("preview"),
      noPreview: $("no-preview"),
      sound: $("sound"),
      soundLabel: $("sound-label"),
      pause: $("pause"),
      pauseLabel: $("pause-label"),
      status: $("status"),
      statusTitle: $("status-title"),
      statusPercent: $("status-percent"),
      progress: $("progress"),
      statusDetail: $("status-detail"),
      announce: $("announce"),
      form: $("upload-form"),
      fields: $("fields"),
      change: $("change"),
      changeButton: $("change-button"),
      fileName: $("file-name"),
      caption: $("caption"),
      captionChars: $("caption-chars"),
      captionTags: $("caption-tags"),
      visibility: $("visibility"),
      comments: $("comments"),
      error: $("error"),
      publish: $("publish"),
      retry: $("retry"),
      result: $("result"),
      poster: $("poster"),
      resultTitle: $("result-title"),
      resultText: $("result-text"),
      resultCaption: $("result-caption"),
      profileLink: $("profile-link"),
    };
    this.percentFormat = new Intl.NumberFormat(this.locale, { style: "percent", maximumFractionDigits: 0 });
    this.numberFormat = new Intl.NumberFormat(this.locale);
    this.sizeFormat = new Intl.NumberFormat(this.locale, { style: "unit", unit: "megabyte", maximumFractionDigits: 1 });
    this.plural = new Intl.PluralRules(this.locale);

    this.file = null;
    this.upload = null;
    this.uploadUrl = null; // set once every byte is on the server
    this.localUrl = null;
    this.player = null; // the <video> on screen
    this.nextPlayer = null; // a server version loading behind it
    this.userPaused = false;
    this.uploadFailed = false;
    this.publishWanted = false;
    this.publishing = false;
    this.videoId = null;
    this.finished = false;
    this.lastStage = null;
    this.serverWanted = null; // "first" or "final": the server version last asked for
    this.serverLoads = 0;

    this.#bind();
    this.#updateCaptionCount();
  }

  #bind() {
    const { el } = this;
    el.file.addEventListener("change", () => {
      const [file] = el.file.files;
      if (file) this.choose(file);
    });
    el.changeButton.addEventListener("click", () => el.file.click());
    el.caption.addEventListener("input", () => this.#updateCaptionCount());
    el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.requestPublish();
    });
    el.retry.addEventListener("click", () => this.#startUpload());
    el.sound.addEventListener("click", () => this.#toggleSound());
    el.pause.addEventListener("click", () => this.#togglePause());
    this.#bindDrops();
    // Leaving while "publish" waits for the upload would drop the creator's request silently.
    window.addEventListener("beforeunload", (event) => {
      if ((this.publishWanted && this.videoId === null) || this.publishing) {
        event.preventDefault();
        event.returnValue = ""; // what older Chromium and Safari still look for
      }
    });
  }

  /** Drops anywhere on the page choose the file (until it is published). */
  #bindDrops() {
    const hasFiles = (event) => Array.from(event.dataTransfer?.types ?? []).includes("Files");
    let depth = 0;
    const setOver = (over) => this.root.classList.toggle("is-dragover", over);
    window.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) return;
      depth += 1;
      setOver(this.#canChoose());
    });
    window.addEventListener("dragleave", (event) => {
      if (!hasFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) setOver(false);
    });
    window.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      // Without this the browser would open the file in place of the page.
      event.preventDefault();
      event.dataTransfer.dropEffect = this.#canChoose() ? "copy" : "none";
    });
    window.addEventListener("drop", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth = 0;
      setOver(false);
      const [file] = event.dataTransfer.files;
      if (file && this.#canChoose()) this.choose(file);
    });
  }

  #canChoose() {
    return this.videoId === null && !this.publishing;
  }

  // --- choosing and previewing ------------------------------------------------------------

  /** @param {File} file */
  choose(file) {
    if (!this.#canChoose()) return;
    this.#hideError();
    const refusal = this.#refusal(file);
    if (refusal) {
      this.#showError(refusal);
      this.el.file.value = "";
      return;
    }
    this.upload?.abort();
    this.upload = null;
    this.uploadUrl = null;
    this.file = file;
    const hadFocus = document.activeElement === this.el.file;
    this.#showLocal(file);
    this.el.fileName.textContent = file.name;
    this.el.change.hidden = false;
    this.el.publish.disabled = false;
    // The picker just went out of view with the focus in it; keep the keyboard user's place.
    if (hadFocus) this.el.changeButton.focus();
    this.root.dataset.phase = "chosen";
    this.#startUpload();
  }

  /** Refuse here what the server would refuse anyway, before a byte is sent. */
  #refusal(file) {
    if (file.size === 0) return "empty_file";
    if (file.size > Number(this.root.dataset.maxBytes)) return "upload_too_large";
    // Some systems give no type for .mkv and friends: those go to the server to be probed.
    if (file.type && !file.type.startsWith("video/")) return "not_a_video";
    return null;
  }

  /** The clip plays at once from the local file: no wait for the server. */
  #showLocal(file) {
    this.nextPlayer?.remove();
    this.nextPlayer = null;
    this.player?.remove();
    if (this.localUrl) URL.revokeObjectURL(this.localUrl);
    this.localUrl = URL.createObjectURL(file);
    const player = this.#makePlayer();
    player.dataset.source = "local";
    player.addEventListener("error", () => {
      // HEVC in Chromium, AVI anywhere: the server still converts it; say so instead of a blank box.
      if (this.player !== player) return;
      this.el.noPreview.textContent = this.strings.no_preview;
      this.el.noPreview.hidden = false;
    });
    this.el.noPreview.hidden = true;
    this.userPaused = false;
    player.src = this.localUrl;
    this.el.preview.prepend(player);
    this.player = player;
    this.el.preview.hidden = false;
    this.el.dropzone.hidden = true;
    this.#syncControls();
    player.play().catch(() => {});
  }

  #makePlayer() {
    const player = document.createElement("video");
    // Muted (and inline) is what lets every browser autoplay it.
    player.muted = true;
    player.defaultMuted = true;
    player.loop = true;
    player.playsInline = true;
    player.autoplay = true;
    player.preload = "auto";
    player.setAttribute("aria-label", this.strings.preview_label);
    // Tapping the picture pauses, as in the feed; the buttons do the same from the keyboard.
    player.addEventListener("click", () => this.#togglePause());
    player.addEventListener("play", () => this.#syncControls());
    player.addEventListener("pause", () => this.#syncControls());
    return player;
  }

  #togglePause() {
    const { player } = this;
    if (!player) return;
    if (player.paused) player.play().catch(() => {});
    else player.pause();
    this.userPaused = player.paused;
  }

  #toggleSound() {
    if (!this.player) return;
    this.player.muted = !this.player.muted;
    if (!this.player.muted && !this.userPaused) this.player.play().catch(() => {});
    this.#syncControls();
  }

  /** The labels say what a press will do; the icons follow (CSS, on data-state). */
  #syncControls() {
    const { el, player, strings } = this;
    el.sound.hidden = el.pause.hidden = !player;
    if (!player) return;
    el.sound.dataset.state = player.muted ? "muted" : "sound";
    el.soundLabel.textContent = player.muted ? strings.sound_on : strings.sound_off;
    el.sound.title = el.soundLabel.textContent;
    el.pause.dataset.state = player.paused ? "paused" : "playing";
    el.pauseLabel.textContent = player.paused ? strings.play : strings.pause;
    el.pause.title = el.pauseLabel.textContent;
  }

  // --- uploading --------------------------------------------------------------------------

  #startUpload() {
    const file = this.file;
    if (!file) return;
    this.el.retry.hidden = true;
    this.uploadFailed = false;
    this.#hideError();
    if (!this.upload) {
      this.upload = new TusUpload(file, {
        endpoint: this.root.dataset.endpoint,
        // Read when each upload starts, so a test can make chunks small on the live page.
        chunkSize: Number(this.root.dataset.chunkSize),
        headers: { "X-CSRF-Token": this.csrf },
        storageKey: uploadKey(file, this.root.dataset.username),
        onProgress: (sent, total) => this.#showUploadProgress(sent, total),
        onState: (state) => this.#showUploadState(state),
      });
    }
    const upload = this.upload;
    this.#setStatus({ title: this.strings.starting, percent: 0, detail: "" });
    upload.start().then(
      (url) => {
        if (this.upload !== upload) return;
        this.uploadUrl = url;
        this.#setStatus({
          title: this.strings.uploaded,
          percent: 100,
          detail: this.publishWanted ? this.strings.publishing : this.strings.uploaded_hint,
          announce: true,
        });
        if (this.publishWanted) this.#publish();
      },
      (error) => {
        if (this.upload !== upload || error?.name === "AbortError") return;
        this.uploadFailed = true;
        this.#setStatus({ title: this.strings.upload_failed, detail: "", announce: true });
        this.#showError(error instanceof TusError ? codeOf(error) : "upload_interrupted");
        this.el.retry.hidden = false;
      },
    );
  }

  #showUploadState(state) {
    const titles = { creating: this.strings.starting, resuming: this.strings.resuming, retrying: this.strings.retrying };
    this.root.dataset.uploadState = state;
    if (state in titles) this.#setStatus({ title: titles[state], announce: state !== "creating" });
  }

  #showUploadProgress(sent, total) {
    const fraction = total > 0 ? sent / total : 1;
    const mb = (bytes) => this.sizeFormat.format(bytes / 1e6);
    this.#setStatus({
      title: this.strings.uploading,
      percent: fraction * 100,
      detail: this.publishWanted
        ? this.strings.waiting_upload
        : fill(this.strings.sent, { sent: mb(sent), total: mb(total) }),
    });
  }

  // --- publishing -------------------------------------------------------------------------

  requestPublish() {
    if (!this.file || this.videoId !== null || this.publishing) return;
    const tags = this.#hashtags();
    if (tags.length > Number(this.root.dataset.hashtagsMax)) {
      this.#showError("too_many_hashtags");
      this.el.caption.focus();
      return;
    }
    this.#hideError();
    this.publishWanted = true;
    this.el.fields.disabled = true;
    this.el.publish.disabled = true;
    if (this.uploadUrl) {
      this.#publish();
    } else if (this.uploadFailed) {
      this.#startUpload();
      this.#setStatus({ detail: this.strings.waiting_upload, announce: true });
    } else {
      this.#setStatus({ detail: this.strings.waiting_upload, announce: true });
    }
  }

  async #publish() {
    if (this.publishing || this.videoId !== null) return;
    this.publishing = true;
    this.#setStatus({ title: this.strings.publishing, detail: "", announce: true });
    const body = {
      upload_id: this.uploadUrl.split("/").pop(),
      caption: this.el.caption.value,
      visibility: this.el.visibility.value,
      comments_enabled: this.el.comments.checked,
    };
    let response;
    try {
      response = await fetch(VIDEOS_API, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": this.csrf },
        body: JSON.stringify(body),
      });
    } catch {
      this.publishing = false;
      this.#publishFailed("upload_interrupted");
      return;
    }
    this.publishing = false;
    if (response.status !== 201) {
      const code = await responseCode(response);
      if (code === "upload_incomplete") {
        // The server is missing bytes we thought it had: ask it where it stands and go on.
        this.uploadUrl = null;
        this.#startUpload();
        return;
      }
      if (UPLOAD_LOST.has(code)) {
        // The bytes are gone from the server (expired, or already used): send them again and
        // publish after, as asked.
        this.upload?.forget();
        this.upload = null;
        this.uploadUrl = null;
        this.#startUpload();
        return;
      }
      this.#publishFailed(code);
      return;
    }
    const video = await response.json();
    this.videoId = video.id;
    this.upload?.forget();
    this.root.dataset.phase = "published";
    this.el.form.hidden = true;
    this.el.change.hidden = true;
    this.el.resultCaption.textContent = video.caption;
    this.el.resultCaption.hidden = !video.caption;
    this.#showResult(this.strings.publishing, this.strings.plays_soon);
    this.#follow(video.id);
  }

  #publishFailed(code) {
    this.publishWanted = false;
    this.el.fields.disabled = false;
    this.el.publish.disabled = false;
    this.#showError(code);
    this.#setStatus({ title: this.strings.uploaded, detail: "" });
  }

  // --- processing -------------------------------------------------------------------------

  /** Follow processing as server-sent events; fall back to polling if the stream is refused. */
  #follow(videoId) {
    const source = new EventSource(`${VIDEOS_API}/${videoId}/progress`);
    source.onmessage = (event) => {
      this.#onState(JSON.parse(event.data));
      if (this.finished) source.close();
    };
    source.onerror = () => {
      if (this.finished) {
        source.close();
      } else if (source.readyState === EventSource.CLOSED) {
        // An error status ends an EventSource for good; a dropped stream reconnects by itself.
        this.#poll(videoId);
      }
    };
  }

  async #poll(videoId) {
    while (!this.finished) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      try {
        const response = await fetch(`${VIDEOS_API}/${videoId}`, { headers: { Accept: "application/json" } });
        if (response.ok) this.#onState(await response.json());
      } catch {
        // Offline for a moment: ask again on the next turn.
      }
    }
  }

  /** @param {{status: string, stage: string, progress: number, error_code: string|null}} state */
  #onState(state) {
    if (this.finished) return;
    if (state.status === "failed") {
      this.finished = true;
      this.root.dataset.phase = "failed";
      this.#setStatus({ title: this.strings.failed, percent: null, detail: "", announce: true });
      this.#showResult(this.strings.failed, this.#message(state.error_code));
      return;
    }
    const stage = this.strings.stages[state.stage] ?? state.stage;
    const done = state.stage === "done";
    this.#setStatus({ title: stage, percent: state.progress, detail: "", announce: this.lastStage !== state.stage });
    this.lastStage = state.stage;
    if (state.status === "ready") {
      this.#loadServerVersion(done ? "final" : "first");
      this.#showResult(this.strings.published, done ? this.strings.done_note : this.strings.ladder_note, true);
    }
    if (done) {
      this.finished = true;
      this.root.dataset.phase = "done";
    }
  }

  /**
   * Fetch the video and put its best rendition for this screen on, once it can play: the first
   * rendition when the video becomes ready, the full ladder's when processing is done.
   * @param {"first"|"final"} which
   */
  async #loadServerVersion(which) {
    if (this.serverWanted === which || this.serverWanted === "final") return;
    this.serverWanted = which;
    const load = ++this.serverLoads;
    let video;
    try {
      const response = await fetch(`${VIDEOS_API}/${this.videoId}`, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      video = await response.json();
    } catch {
      return;
    }
    if (load !== this.serverLoads) return; // a later state (the full ladder) superseded this one
    if (video.poster_url) {
      this.el.poster.src = video.poster_url;
      this.el.poster.hidden = false;
    }
    const rendition = this.#pickRendition(video.renditions);
    if (!rendition || this.player?.dataset.url === rendition.url) return;
    const player = this.#makePlayer();
    player.dataset.source = "server";
    player.dataset.url = rendition.url;
    if (video.poster_url) player.poster = video.poster_url;
    player.autoplay = false;
    player.classList.add("is-next");
    player.addEventListener(
      "canplay",
      () => {
        if (this.nextPlayer !== player) return;
        this.#swapTo(player);
      },
      { once: true },
    );
    player.addEventListener(
      "error",
      () => {
        // The first rendition is deleted once the ladder lands; the ladder's own load follows.
        if (this.nextPlayer !== player) return;
        player.remove();
        this.nextPlayer = null;
      },
      { once: true },
    );
    this.nextPlayer?.remove();
    this.nextPlayer = player;
    player.src = rendition.url;
    this.el.preview.append(player);
  }

  /** Show `player` in place of the current one, keeping sound and not dropping a frame. */
  #swapTo(player) {
    const previous = this.player;
    this.nextPlayer = null;
    player.muted = previous?.muted ?? true;
    player.classList.remove("is-next");
    this.player = player;
    if (!this.userPaused) player.play().catch(() => {});
    previous?.remove();
    this.el.noPreview.hidden = true;
    if (previous?.dataset.source === "local" && this.localUrl) {
      URL.revokeObjectURL(this.localUrl);
      this.localUrl = null;
    }
    this.#syncControls();
  }

  /** The smallest rendition that is still sharp at the player's size on this screen. */
  #pickRendition(renditions) {
    if (!renditions?.length) return null;
    const box = this.el.preview.getBoundingClientRect();
    const needed = Math.max(box.width, box.height) * (window.devicePixelRatio || 1);
    const bySize = [...renditions].sort((a, b) => Math.max(a.width, a.height) - Math.max(b.width, b.height));
    return bySize.find((item) => Math.max(item.width, item.height) >= needed * 0.9) ?? bySize.at(-1);
  }

  // --- showing things ---------------------------------------------------------------------

  /**
   * @param {{title?: string, percent?: number|null, detail?: string, announce?: boolean}} update
   *   `percent: null` hides the bar; fields left out keep their value.
   */
  #setStatus({ title, percent, detail, announce = false }) {
    const { el } = this;
    el.status.hidden = false;
    if (title !== undefined) el.statusTitle.textContent = title;
    if (detail !== undefined) {
      el.statusDetail.textContent = detail;
      el.statusDetail.hidden = !detail;
    }
    if (percent !== undefined) {
      el.progress.hidden = percent === null;
      el.statusPercent.hidden = percent === null;
      if (percent !== null) {
        const clamped = Math.min(100, Math.max(0, percent));
        el.progress.value = clamped;
        el.statusPercent.textContent = this.percentFormat.format(Math.floor(clamped) / 100);
      }
    }
    // Announced on changes of phase only: a screen reader reading every percent is noise.
    if (announce) el.announce.textContent = el.statusTitle.textContent;
  }

  #showResult(title, text, live = false) {
    const { el } = this;
    const first = el.result.hidden;
    el.result.hidden = false;
    el.resultTitle.textContent = title;
    el.resultText.textContent = text;
    el.profileLink.hidden = !live;
    if (first) el.resultTitle.focus();
  }

  #message(code) {
    const messages = this.strings.problems;
    return messages[code] ?? messages._unknown;
  }

  #showError(code) {
    this.el.error.textContent = this.#message(code);
    this.el.error.hidden = false;
  }

  #hideError() {
    this.el.error.hidden = true;
    this.el.error.textContent = "";
  }

  #hashtags() {
    const caption = this.el.caption.value.normalize("NFC");
    return [...new Set(Array.from(caption.matchAll(HASHTAG), (match) => match[1].toLowerCase()))];
  }

  #updateCaptionCount() {
    const { el } = this;
    const chars = this.numberFormat.format(el.caption.value.length);
    el.captionChars.textContent = `${chars} / ${this.numberFormat.format(el.caption.maxLength)}`;
    const count = this.#hashtags().length;
    const forms = this.strings.hashtags;
    const form = forms[this.plural.select(count)] ?? forms.other ?? Object.values(forms).at(-1);
    el.captionTags.textContent = form.replace("%(num)s", this.numberFormat.format(count));
    el.captionTags.classList.toggle("is-over", count > Number(this.root.dataset.hashtagsMax));
  }
}

/** The problem code of a failed API response (problem+json), or one from its status. */
async function responseCode(response) {
  try {
    const body = await response.json();
    if (typeof body?.code === "string") return body.code;
  } catch {
    // Not JSON: a proxy's page, or a cut connection.
  }
  return statusCode(response.status);
}

/** @param {TusError} error */
function codeOf(error) {
  return error.code ?? (error.status === 0 ? "upload_interrupted" : statusCode(error.status));
}

function statusCode(status) {
  if (status === 401) return "unauthenticated";
  if (status === 403) return "forbidden";
  if (status === 413) return "payload_too_large";
  if (status === 503) return "unavailable";
  if (status >= 500) return "internal_error";
  return "http_error";
}

const root = document.querySelector("[data-upload]");
if (root) new UploadPage(root);
