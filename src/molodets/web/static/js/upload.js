// The creator's upload page: a chosen or recorded clip plays at once from the local file,
// uploads (tus) while the caption is written, becomes a video on Publish, and its processing is
// followed live; the server's version replaces the local one only once it can play.
//
// The parts live beside this file: preview.js (the clip on screen), recorder.js (the camera),
// caption.js (counts and highlighting), cover.js (the cover frame), transfer.js (speed and time
// left), tus.js (the resumable upload).

import { CaptionField } from "./caption.js";
import { CoverPicker } from "./cover.js";
import { bindDrops } from "./drops.js";
import { Preview } from "./preview.js";
import { commentChoice, followProcessing, responseCode, uploadErrorCode } from "./publish.js";
import { Recorder } from "./recorder.js";
import { TransferLine } from "./transfer.js";
import { TusError, TusUpload, uploadKey } from "./tus.js";

const VIDEOS_API = "/api/v1/videos";
// Codes that mean the upload cannot become a video any more: upload the file again.
const UPLOAD_LOST = new Set(["upload_not_found", "upload_expired", "upload_consumed"]);
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
      recordOffer: $("record-offer"),
      recordOpen: $("record-open"),
      status: $("status"),
      statusTitle: $("status-title"),
      statusPercent: $("status-percent"),
      progress: $("progress"),
      statusDetail: $("status-detail"),
      uploadPause: $("upload-pause"),
      uploadPauseLabel: $("upload-pause-label"),
      announce: $("announce"),
      form: $("upload-form"),
      fields: $("fields"),
      change: $("change"),
      changeButton: $("change-button"),
      changeRecord: $("change-record"),
      fileName: $("file-name"),
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
      videoLink: $("video-link"),
    };
    this.percentFormat = new Intl.NumberFormat(this.locale, { style: "percent", maximumFractionDigits: 0 });
    this.sizeFormat = new Intl.NumberFormat(this.locale, { style: "unit", unit: "megabyte", maximumFractionDigits: 1 });
    this.rate = new TransferLine(
      { line: $("status-rate"), speed: $("status-speed"), eta: $("status-eta") },
      { locale: this.locale, timeLeft: this.strings.time_left },
    );

    this.preview = new Preview(
      {
        preview: $("preview"),
        noPreview: $("no-preview"),
        sound: $("sound"),
        soundLabel: $("sound-label"),
        pause: $("pause"),
        pauseLabel: $("pause-label"),
      },
      this.strings,
    );
    this.caption = new CaptionField(
      { caption: $("caption"), mirror: $("caption-mirror"), chars: $("caption-chars"), tags: $("caption-tags") },
      { locale: this.locale, forms: this.strings.hashtags, max: Number(root.dataset.hashtagsMax) },
    );
    this.cover = new CoverPicker(
      { root: $("cover"), frame: $("cover-frame"), thumbs: $("cover-thumbs"), range: $("cover-range") },
      { template: this.strings.cover_at },
    );
    this.recorder = new Recorder($("recorder"), {
      strings: this.strings.recorder,
      // Read when each recording starts, so a test can lower the limit on the live page.
      maxSeconds: () => Number(root.dataset.maxSeconds),
      onTake: (file, durationMs) => this.choose(file, durationMs),
      onClose: () => this.#closeRecorder(),
    });

    this.file = null;
    this.upload = null;
    this.uploadUrl = null; // set once every byte is on the server
    this.uploadPaused = false;
    this.uploadFailed = false;
    this.publishWanted = false;
    this.publishing = false;
    this.videoId = null;
    this.finished = false;
    this.lastStage = null;
    this.serverWanted = null; // "first" or "final": the server version last asked for
    this.serverLoads = 0;

    this.el.recordOffer.hidden = false;
    this.#bind();
  }

  #bind() {
    const { el } = this;
    el.file.addEventListener("change", () => {
      const [file] = el.file.files;
      if (file) this.choose(file);
    });
    el.changeButton.addEventListener("click", () => el.file.click());
    el.recordOpen.addEventListener("click", () => this.#openRecorder());
    el.changeRecord.addEventListener("click", () => this.#openRecorder());
    el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.requestPublish();
    });
    el.retry.addEventListener("click", () => this.#startUpload());
    el.uploadPause.addEventListener("click", () => (this.uploadPaused ? this.#resumeUpload() : this.#pauseUpload()));
    // Back online after the client gave up: carry on by itself rather than wait for a click.
    window.addEventListener("online", () => {
      if (this.uploadFailed && !this.uploadPaused) this.#startUpload();
    });
    bindDrops(this.root, () => this.#canChoose(), (file) => this.choose(file));
    // Leaving while "publish" waits for the upload would drop the creator's request silently.
    window.addEventListener("beforeunload", (event) => {
      if ((this.publishWanted && this.videoId === null) || this.publishing) {
        event.preventDefault();
        event.returnValue = ""; // what older Chromium and Safari still look for
      }
    });
  }

  #canChoose() {
    return this.videoId === null && !this.publishing;
  }

  // --- choosing, recording and previewing -------------------------------------------------

  #openRecorder() {
    if (!this.#canChoose()) return;
    this.el.dropzone.hidden = true;
    this.preview.hide();
    this.recorder.open();
  }

  #closeRecorder() {
    if (this.file) this.preview.show();
    else this.el.dropzone.hidden = false;
    (this.file ? this.el.changeButton : this.el.recordOpen).focus();
  }

  /**
   * @param {File} file  picked, dropped or recorded
   * @param {number|null} durationMs  known for a recording (its WebM header does not say)
   */
  choose(file, durationMs = null) {
    if (!this.#canChoose()) return;
    this.#hideError();
    const refusal = this.#refusal(file);
    if (refusal) {
      this.#showError(refusal);
      this.el.file.value = "";
      return;
    }
    if (this.recorder.state !== "off") this.recorder.close(false);
    this.upload?.abort();
    this.upload = null;
    this.uploadUrl = null;
    this.file = file;
    const hadFocus = document.activeElement === this.el.file || durationMs !== null;
    this.preview.showLocal(file);
    this.el.dropzone.hidden = true;
    this.cover.load(file, durationMs);
    this.el.fileName.textContent = file.name;
    this.el.change.hidden = false;
    this.el.publish.disabled = false;
    // The picker (or the recorder) just went out of view with the focus in it; keep the place.
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

  // --- uploading --------------------------------------------------------------------------

  #startUpload() {
    const file = this.file;
    if (!file) return;
    this.el.retry.hidden = true;
    this.uploadFailed = false;
    this.uploadPaused = false;
    this.#syncPauseButton();
    this.#hideError();
    this.rate.reset();
    // A resume (after a pause or a failure) keeps the bar where it was until the server answers.
    const resuming = this.upload !== null && this.upload.offset > 0;
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
    if (resuming) this.#setStatus({ title: this.strings.resuming, detail: "" });
    else this.#setStatus({ title: this.strings.starting, percent: 0, detail: "" });
    upload.start().then(
      (url) => {
        if (this.upload !== upload) return;
        this.uploadUrl = url;
        this.rate.hide();
        this.#syncPauseButton();
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
        this.rate.hide();
        this.#syncPauseButton();
        this.#setStatus({ title: this.strings.upload_failed, detail: "", announce: true });
        this.#showError(error instanceof TusError ? uploadErrorCode(error) : "upload_interrupted");
        this.el.retry.hidden = false;
      },
    );
  }

  /** Stop sending; the server keeps what it has, and Resume asks it where to go on from. */
  #pauseUpload() {
    if (!this.upload || this.uploadUrl || this.uploadFailed) return;
    this.uploadPaused = true;
    this.upload.abort();
    this.root.dataset.uploadState = "paused";
    this.rate.hide();
    this.#syncPauseButton();
    this.#setStatus({ title: this.strings.paused, detail: this.strings.paused_hint, announce: true });
  }

  #resumeUpload() {
    if (!this.uploadPaused) return;
    this.#startUpload();
    this.el.uploadPause.focus();
  }

  #syncPauseButton() {
    const { el, strings } = this;
    const active = this.file !== null && this.uploadUrl === null && !this.uploadFailed && this.videoId === null;
    el.uploadPause.hidden = !active;
    el.uploadPause.dataset.state = this.uploadPaused ? "paused" : "playing";
    el.uploadPauseLabel.textContent = this.uploadPaused ? strings.resume_upload : strings.pause_upload;
  }

  #showUploadState(state) {
    if (this.uploadPaused) return;
    const titles = { creating: this.strings.starting, resuming: this.strings.resuming, retrying: this.strings.retrying };
    this.root.dataset.uploadState = state;
    if (state === "retrying") this.rate.reset();
    if (state in titles) this.#setStatus({ title: titles[state], announce: state !== "creating" });
  }

  #showUploadProgress(sent, total) {
    if (this.uploadPaused) return;
    const fraction = total > 0 ? sent / total : 1;
    const mb = (bytes) => this.sizeFormat.format(bytes / 1e6);
    this.rate.update(sent, total);
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
    if (this.caption.over) {
      this.#showError("too_many_hashtags");
      this.caption.focus();
      return;
    }
    this.#hideError();
    this.publishWanted = true;
    this.el.fields.disabled = true;
    this.el.publish.disabled = true;
    if (this.uploadUrl) {
      this.#publish();
      return;
    }
    // Publishing is asking for the upload: a paused or failed one goes on now.
    if (this.uploadFailed || this.uploadPaused) this.#startUpload();
    this.#setStatus({ detail: this.strings.waiting_upload, announce: true });
  }

  async #publish() {
    if (this.publishing || this.videoId !== null) return;
    this.publishing = true;
    this.#setStatus({ title: this.strings.publishing, detail: "", announce: true });
    const body = {
      upload_id: this.uploadUrl.split("/").pop(),
      caption: this.caption.value,
      visibility: this.el.visibility.value,
      ...commentChoice(this.el.comments.value),
      cover_time_ms: this.cover.timeMs,
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
    this.#syncPauseButton();
    this.root.dataset.phase = "published";
    this.root.dataset.videoId = video.id;
    this.el.form.hidden = true;
    this.el.change.hidden = true;
    this.cover.clear();
    this.el.resultCaption.textContent = video.caption;
    this.el.resultCaption.hidden = !video.caption;
    this.el.videoLink.href = `/@${encodeURIComponent(this.root.dataset.username)}/video/${video.id}`;
    this.#showResult(this.strings.publishing, this.strings.plays_soon);
    followProcessing(`${VIDEOS_API}/${video.id}`, (state) => this.#onState(state), POLL_MS);
  }

  #publishFailed(code) {
    this.publishWanted = false;
    this.el.fields.disabled = false;
    this.el.publish.disabled = false;
    this.#showError(code);
    this.#setStatus({ title: this.strings.uploaded, detail: "" });
  }

  // --- processing -------------------------------------------------------------------------

  /** @param {{status: string, stage: string, progress: number, error_code: string|null}} state */
  #onState(state) {
    if (this.finished) return true;
    if (state.status === "failed") {
      this.finished = true;
      this.root.dataset.phase = "failed";
      this.#setStatus({ title: this.strings.failed, percent: null, detail: "", announce: true });
      this.#showResult(this.strings.failed, this.#message(state.error_code));
      return true;
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
    return this.finished;
  }

  /**
   * Fetch the video and offer its rendition to the preview: the first rendition when the video
   * becomes ready, the full ladder's when processing is done.
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
    this.preview.offerServer(video);
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
    el.videoLink.hidden = !live;
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
}

const root = document.querySelector("[data-upload]");
if (root) new UploadPage(root);
