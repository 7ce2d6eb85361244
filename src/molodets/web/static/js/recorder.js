// Recording in the browser: the camera and microphone through getUserMedia, framed 9:16 and
// recorded with MediaRecorder. A camera that gives landscape frames (every laptop) is cropped
// to its centre on a 720x1280 canvas, and the canvas is recorded with the microphone's track,
// so what is recorded is what the viewfinder showed. The finished take is handed to the page as
// a File and goes the same way as a chosen one.

// Tried in order: WebM (VP9, then VP8) where MediaRecorder has it, MP4 for Safari.
const TYPES = [
  "video/webm;codecs=vp9,opus",
  "video/webm;codecs=vp8,opus",
  "video/webm",
  "video/mp4;codecs=avc1.42E01F,mp4a.40.2",
  "video/mp4",
];
const OUT_WIDTH = 720;
const OUT_HEIGHT = 1280;
const FPS = 30;
// A press held longer than this is "hold to record": letting go stops. A shorter one is a tap.
const HOLD_MS = 400;
// Shorter takes are refused here (a slip of the finger), before the server refuses them.
const MIN_TAKE_MS = 1000;
const TICK_MS = 100;

/** "1:05" */
function clock(ms) {
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** Which message a failed getUserMedia deserves. */
function reasonOf(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "no_camera";
    case "NotReadableError":
    case "AbortError":
      return "busy";
    default:
      return "failed";
  }
}

export class Recorder {
  /**
   * @param {HTMLElement} root  the `[data-recorder]` element
   * @param {object} options
   * @param {Record<string, string>} options.strings  the recorder's messages
   * @param {() => number} options.maxSeconds  the longest video the server takes
   * @param {(file: File, durationMs: number) => void} options.onTake  the creator chose the take
   * @param {() => void} options.onClose  the recorder was closed without a take
   */
  constructor(root, { strings, maxSeconds, onTake, onClose }) {
    this.root = root;
    this.strings = strings;
    this.maxSeconds = maxSeconds;
    this.onTake = onTake;
    this.onClose = onClose;
    const $ = (name) => root.querySelector(`[data-rec-${name}]`);
    this.el = {
      view: $("view"),
      take: $("take"),
      message: $("message"),
      close: $("close"),
      time: $("time"),
      flip: $("flip"),
      hint: $("hint"),
      button: $("button"),
      ring: $("ring"),
      label: $("label"),
      takeActions: $("take-actions"),
      retake: $("retake"),
      use: $("use"),
      announce: $("announce"),
    };
    this.stream = null; // camera + microphone
    this.cameras = [];
    this.deviceId = null;
    this.recorder = null;
    this.chunks = [];
    this.startedAt = 0;
    this.tookMs = 0;
    this.ticker = null;
    this.drawing = false;
    this.take = null; // {file, url, durationMs}
    this.pressAt = null;
    this.opening = 0;
    this.#bind();
  }

  get state() {
    return this.root.dataset.state;
  }

  set state(value) {
    this.root.dataset.state = value;
  }

  #bind() {
    const { el } = this;
    // Pointer: a tap starts or stops; a long press records while held. Keyboard: Enter and
    // Space "click" with detail 0 and toggle.
    el.button.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      event.preventDefault();
      el.button.focus();
      if (this.state === "ready") {
        this.pressAt = performance.now();
        this.start();
      } else if (this.state === "recording") {
        this.pressAt = null;
        this.stop();
      }
    });
    const release = () => {
      if (this.pressAt !== null && this.state === "recording" && performance.now() - this.pressAt >= HOLD_MS) {
        this.stop();
      }
      this.pressAt = null;
    };
    el.button.addEventListener("pointerup", release);
    el.button.addEventListener("pointercancel", release);
    el.button.addEventListener("contextmenu", (event) => event.preventDefault()); // long press on phones
    el.button.addEventListener("click", (event) => {
      if (event.detail !== 0) return; // a pointer's click: handled on pointerdown
      if (this.state === "ready") this.start();
      else if (this.state === "recording") this.stop();
    });
    el.close.addEventListener("click", () => this.close(true));
    el.flip.addEventListener("click", () => this.#flip());
    el.retake.addEventListener("click", () => this.#retake());
    el.use.addEventListener("click", () => this.#use());
    // Never leave the camera light on behind the creator's back.
    window.addEventListener("pagehide", () => {
      if (this.state !== "off") this.close(true);
    });
  }

  /** Show the recorder and turn the camera on. */
  async open() {
    this.root.hidden = false;
    this.#showTake(null);
    this.#message(null);
    // It takes the place of the button that opened it: bring all of it into view, and the
    // keyboard's focus onto it.
    this.root.scrollIntoView({ block: "nearest" });
    this.el.close.focus({ preventScroll: true });
    await this.#startCamera();
    if (this.state === "ready" && this.root.contains(document.activeElement)) {
      this.el.button.focus({ preventScroll: true });
    }
  }

  /**
   * Release the camera and hide the recorder.
   * @param {boolean} notify  tell the page (the creator closed it, rather than chose a take)
   */
  close(notify) {
    this.opening += 1;
    if (this.recorder && this.recorder.state !== "inactive") {
      this.recorder.onstop = null;
      this.recorder.stop();
    }
    this.#stopTicker();
    this.recorder = null;
    this.#release();
    this.#showTake(null);
    this.root.hidden = true;
    this.state = "off";
    if (notify) this.onClose();
  }

  async #startCamera() {
    const opening = ++this.opening;
    this.#release();
    if (!navigator.mediaDevices?.getUserMedia || typeof MediaRecorder === "undefined") {
      this.#fail("unsupported");
      return;
    }
    this.state = "opening";
    this.#message(this.strings.opening);
    const video = {
      // Portrait, as the phone is held; a laptop's camera answers with landscape anyway.
      width: { ideal: OUT_WIDTH },
      height: { ideal: OUT_HEIGHT },
      aspectRatio: { ideal: OUT_WIDTH / OUT_HEIGHT },
      frameRate: { ideal: FPS },
      ...(this.deviceId ? { deviceId: { exact: this.deviceId } } : { facingMode: { ideal: "user" } }),
    };
    const audio = { echoCancellation: true, noiseSuppression: true };
    let stream = null;
    let note = null;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video, audio });
    } catch (error) {
      if (error?.name !== "NotFoundError") return this.#failUnless(opening, reasonOf(error));
      // Maybe only the microphone is missing: record without sound rather than not at all.
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video });
        note = this.strings.no_microphone;
      } catch (retry) {
        return this.#failUnless(opening, reasonOf(retry));
      }
    }
    if (opening !== this.opening) {
      for (const track of stream.getTracks()) track.stop();
      return;
    }
    this.stream = stream;
    const [track] = stream.getVideoTracks();
    const settings = track.getSettings();
    this.deviceId = settings.deviceId ?? null;
    // A laptop's camera faces the creator: show it as a mirror, as every camera app does.
    this.el.view.classList.toggle("is-mirrored", settings.facingMode !== "environment");
    this.el.view.srcObject = stream;
    this.el.view.play().catch(() => {});
    this.#message(note);
    this.state = "ready";
    this.#showTime(0);
    this.#setButton(false);
    await this.#findCameras();
  }

  #failUnless(opening, reason) {
    if (opening === this.opening) this.#fail(reason);
  }

  #fail(reason) {
    this.state = "error";
    this.#message(this.strings[reason] ?? this.strings.failed, true);
  }

  /** The flip button shows only when there is another camera to flip to. */
  async #findCameras() {
    try {
      const devices = await navigator.mediaDevices.enumerateDevices();
      this.cameras = devices.filter((device) => device.kind === "videoinput" && device.deviceId);
    } catch {
      this.cameras = [];
    }
    this.el.flip.hidden = this.cameras.length < 2;
  }

  async #flip() {
    if (this.state !== "ready" || this.cameras.length < 2) return;
    const index = this.cameras.findIndex((camera) => camera.deviceId === this.deviceId);
    this.deviceId = this.cameras[(index + 1) % this.cameras.length].deviceId;
    await this.#startCamera();
  }

  #release() {
    this.drawing = false;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.el.view.srcObject = null;
  }

  // --- recording ----------------------------------------------------------------------------

  start() {
    if (this.state !== "ready" || !this.stream) return;
    const type = TYPES.find((candidate) => MediaRecorder.isTypeSupported(candidate)) ?? "";
    let recorder;
    try {
      recorder = new MediaRecorder(this.#recordedStream(), {
        ...(type ? { mimeType: type } : {}),
        videoBitsPerSecond: 2_500_000,
        audioBitsPerSecond: 128_000,
      });
    } catch {
      this.drawing = false;
      this.#message(this.strings.failed, true);
      return;
    }
    this.recorder = recorder;
    this.chunks = [];
    recorder.ondataavailable = (event) => {
      if (event.data.size > 0) this.chunks.push(event.data);
    };
    recorder.onstop = () => this.#finish(recorder);
    recorder.onerror = () => {
      this.recorder = null;
      this.#stopTicker();
      this.drawing = false;
      this.state = "ready";
      this.#setButton(false);
      this.#message(this.strings.failed, true);
    };
    recorder.start(1000);
    this.startedAt = performance.now();
    this.state = "recording";
    this.#message(null);
    this.#setButton(true);
    this.el.announce.textContent = this.strings.recording;
    this.ticker = setInterval(() => this.#tick(), TICK_MS);
  }

  stop(limitReached = false) {
    if (this.state !== "recording" || !this.recorder) return;
    this.tookMs = performance.now() - this.startedAt;
    this.#stopTicker();
    this.state = "stopping";
    this.recorder.stop();
    if (limitReached) this.#message(this.strings.limit_reached);
  }

  #tick() {
    const elapsed = performance.now() - this.startedAt;
    const limitMs = this.maxSeconds() * 1000;
    this.#showTime(Math.min(elapsed, limitMs));
    if (elapsed >= limitMs) this.stop(true);
  }

  #stopTicker() {
    clearInterval(this.ticker);
    this.ticker = null;
  }

  /**
   * The stream to record: the camera's own when it is already 9:16 portrait, else its centre
   * cropped onto a canvas, with the microphone's track beside the canvas's.
   */
  #recordedStream() {
    const [track] = this.stream.getVideoTracks();
    const { width = 0, height = 0 } = track.getSettings();
    if (width > 0 && height > 0 && Math.abs(width / height - OUT_WIDTH / OUT_HEIGHT) < 0.01) return this.stream;
    const canvas = document.createElement("canvas");
    canvas.width = OUT_WIDTH;
    canvas.height = OUT_HEIGHT;
    const context = canvas.getContext("2d", { alpha: false });
    const view = this.el.view;
    const draw = () => {
      if (!this.drawing) return;
      const sourceWidth = view.videoWidth;
      const sourceHeight = view.videoHeight;
      if (sourceWidth && sourceHeight) {
        const ratio = OUT_WIDTH / OUT_HEIGHT;
        const cropWidth = Math.min(sourceWidth, sourceHeight * ratio);
        const cropHeight = cropWidth / ratio;
        const x = (sourceWidth - cropWidth) / 2;
        const y = (sourceHeight - cropHeight) / 2;
        context.drawImage(view, x, y, cropWidth, cropHeight, 0, 0, OUT_WIDTH, OUT_HEIGHT);
      }
      // Each new camera frame when the browser can say so; else every animation frame.
      if (view.requestVideoFrameCallback) view.requestVideoFrameCallback(draw);
      else requestAnimationFrame(draw);
    };
    this.drawing = true;
    draw();
    const out = canvas.captureStream(FPS);
    for (const audio of this.stream.getAudioTracks()) out.addTrack(audio);
    return out;
  }

  #finish(recorder) {
    if (recorder !== this.recorder) return;
    this.recorder = null;
    this.drawing = false;
    const type = (recorder.mimeType || "video/webm").split(";")[0];
    const blob = new Blob(this.chunks, { type });
    this.chunks = [];
    if (blob.size === 0 || this.tookMs < MIN_TAKE_MS) {
      this.state = "ready";
      this.#setButton(false);
      this.#showTime(0);
      // A slip of the finger may not even have produced data yet: short is the reason to say.
      this.#message(this.strings[this.tookMs < MIN_TAKE_MS ? "too_short" : "failed"], true);
      return;
    }
    const extension = type === "video/mp4" ? "mp4" : "webm";
    const stamp = new Date().toISOString().slice(0, 19).replace(/[T:]/g, "-");
    const file = new File([blob], `recording-${stamp}.${extension}`, { type, lastModified: Date.now() });
    this.#showTake({ file, url: URL.createObjectURL(file), durationMs: Math.round(this.tookMs) });
    this.state = "review";
    this.el.announce.textContent = "";
    this.el.retake.focus();
  }

  /** Show a finished take for review, or (null) go back to the viewfinder. */
  #showTake(take) {
    const { el } = this;
    if (this.take) URL.revokeObjectURL(this.take.url);
    this.take = take;
    el.take.hidden = take === null;
    el.takeActions.hidden = take === null;
    el.button.hidden = el.hint.hidden = take !== null;
    if (take === null) {
      el.take.pause();
      el.take.removeAttribute("src");
      el.take.load();
      return;
    }
    el.take.src = take.url;
    el.take.play().catch(() => {
      // No sound allowed without a fresh gesture: play muted, the controls can unmute.
      el.take.muted = true;
      el.take.play().catch(() => {});
    });
  }

  #retake() {
    this.#showTake(null);
    this.#message(null);
    this.#showTime(0);
    this.#setButton(false);
    this.state = this.stream ? "ready" : "off";
    if (!this.stream) this.#startCamera();
    else this.el.button.focus();
  }

  #use() {
    const take = this.take;
    if (!take) return;
    this.take = null; // its URL now belongs to nobody; the page makes its own
    URL.revokeObjectURL(take.url);
    this.close(false);
    this.onTake(take.file, take.durationMs);
  }

  // --- showing things -------------------------------------------------------------------------

  #setButton(recording) {
    const { el, strings } = this;
    // The label says what a press does ("Start"/"Stop"); CSS draws the square from this.
    el.button.dataset.recording = String(recording);
    el.label.textContent = recording ? strings.stop : strings.start;
    el.button.title = el.label.textContent;
  }

  #showTime(ms) {
    const limitMs = this.maxSeconds() * 1000;
    this.el.time.textContent = `${clock(ms)} / ${clock(limitMs)}`;
    this.el.ring.style.strokeDashoffset = String(1000 * (1 - Math.min(1, ms / limitMs)));
    this.el.button.style.setProperty("--elapsed", String(ms / limitMs));
  }

  #message(text, alert = false) {
    const { message } = this.el;
    message.hidden = !text;
    message.textContent = text ?? "";
    message.classList.toggle("is-alert", alert);
    message.setAttribute("role", alert ? "alert" : "status");
  }
}
