// A small tus 1.0 client (core, creation, termination, checksum) for our own pages.
//
// Why our own: the pages ship no third-party JS, and the part of tus a browser needs is small.
// The server is also tested against tus-js-client and tuspy, so this client is not the only
// judge of the protocol.

const TUS_VERSION = "1.0.0";
const DEFAULT_CHUNK_BYTES = 5 * 1024 * 1024;
// Waits before each new attempt after a failure; after the last one the upload gives up and the
// page offers to try again. A successful chunk starts the list over.
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];
// The server forgets unfinished uploads after a day; an older remembered URL is not worth a HEAD.
const REMEMBER_MS = 24 * 3600 * 1000;
// Statuses worth another attempt: the server was busy (423: another request holds the upload),
// out of step (409: ask where it stands), overloaded or restarting, or the chunk arrived damaged.
const RETRYABLE = new Set([0, 408, 409, 423, 460, 500, 502, 503, 504]);
// Statuses that say the upload is gone: start a new one.
const GONE = new Set([403, 404, 410]);

/** An upload failure. `code` is the server's problem code when it sent one. */
export class TusError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, code?: string|null, retryable?: boolean}} [details]
   */
  constructor(message, { status = 0, code = null, retryable = false } = {}) {
    super(message);
    this.name = "TusError";
    this.status = status;
    this.code = code;
    this.retryable = retryable;
  }
}

/**
 * The localStorage key an upload of `file` is remembered under. Name, size and modification
 * time identify "the same file" after a reload (browsers give no path); `scope` keeps two
 * accounts on one browser apart.
 * @param {File} file
 * @param {string} scope
 */
export function uploadKey(file, scope) {
  return `molodets.tus:${scope}:${file.name}:${file.size}:${file.lastModified}`;
}

/**
 * One resumable upload of one file.
 *
 *   const upload = new TusUpload(file, { endpoint, headers, onProgress });
 *   const url = await upload.start();   // resolves when every byte is on the server
 *   upload.abort();                     // stops; `start()` again resumes
 */
export class TusUpload {
  #url = null;
  #offset = 0;
  #xhr = null;
  #controller = null;
  #aborted = false;
  #wake = null;

  /**
   * @param {File} file
   * @param {object} options
   * @param {string} options.endpoint  where uploads are created (POST)
   * @param {number} [options.chunkSize]  bytes per PATCH
   * @param {Record<string, string>} [options.headers]  sent on every request (X-CSRF-Token)
   * @param {Record<string, string>} [options.metadata]  Upload-Metadata values (UTF-8 text)
   * @param {string|null} [options.storageKey]  remember the upload URL here, to resume after a reload
   * @param {boolean} [options.checksum]  send a SHA-256 of each chunk when the browser can compute it
   * @param {(sent: number, total: number) => void} [options.onProgress]
   * @param {(state: "creating"|"resuming"|"uploading"|"retrying") => void} [options.onState]
   */
  constructor(file, options) {
    this.file = file;
    this.endpoint = new URL(options.endpoint, location.href).href;
    this.chunkSize = Math.max(1, Number(options.chunkSize) || DEFAULT_CHUNK_BYTES);
    this.headers = options.headers ?? {};
    this.metadata = options.metadata ?? {};
    this.storageKey = options.storageKey ?? null;
    // SubtleCrypto exists only in secure contexts (https, localhost).
    this.checksum = (options.checksum ?? true) && Boolean(globalThis.crypto?.subtle);
    this.onProgress = options.onProgress ?? (() => {});
    this.onState = options.onState ?? (() => {});
  }

  /** The upload's URL on the server, once created or recalled. */
  get url() {
    return this.#url;
  }

  /** Bytes the server has confirmed. */
  get offset() {
    return this.#offset;
  }

  /**
   * Send the file, resuming a remembered upload when there is one, and retrying with backoff
   * after network errors: each retry first asks the server (HEAD) where it stands, because a
   * chunk cut off mid-way may have been partly kept.
   * @returns {Promise<string>} the upload URL
   */
  async start() {
    this.#aborted = false;
    this.#controller = new AbortController();
    let attempt = 0;
    let ask = this.#url !== null;
    let restarted = false;
    for (;;) {
      try {
        if (this.#url === null) {
          await this.#resumeOrCreate();
        } else if (ask) {
          const offset = await this.#head(this.#url);
          if (offset === null) throw new TusError("the upload is gone", { status: 404, code: "upload_not_found" });
          this.#offset = offset;
          this.onProgress(offset, this.file.size);
        }
        ask = false;
        while (this.#offset < this.file.size) {
          this.onState("uploading");
          await this.#patch();
          attempt = 0;
        }
        return this.#url;
      } catch (error) {
        if (this.#aborted) throw abortError();
        if (error instanceof TusError && GONE.has(error.status) && this.#url !== null && !restarted) {
          // Expired or removed while we were away: send the file again as a new upload, once.
          restarted = true;
          this.forget();
          this.#url = null;
          this.#offset = 0;
          this.onProgress(0, this.file.size);
          continue;
        }
        if (!(error instanceof TusError) || !error.retryable || attempt >= RETRY_DELAYS_MS.length) throw error;
        this.onState("retrying");
        await this.#sleep(RETRY_DELAYS_MS[attempt]);
        attempt += 1;
        ask = this.#url !== null;
      }
    }
  }

  /** Stop now. The server keeps what it got, and the URL stays remembered for a resume. */
  abort() {
    this.#aborted = true;
    this.#xhr?.abort();
    this.#controller?.abort();
    this.#wake?.();
  }

  /** Stop and delete the upload on the server (tus termination); nothing is left to resume. */
  async terminate() {
    this.abort();
    const url = this.#url;
    this.#url = null;
    this.#offset = 0;
    this.forget();
    if (url !== null) {
      await fetch(url, { method: "DELETE", headers: this.#headers() }).catch(() => {});
    }
  }

  /** Drop the remembered URL (after the upload became a video, or when it is gone). */
  forget() {
    if (this.storageKey === null) return;
    try {
      localStorage.removeItem(this.storageKey);
    } catch {
      // Storage may be disabled (private windows); there is nothing to forget then.
    }
  }

  async #resumeOrCreate() {
    const remembered = this.#recall();
    if (remembered !== null) {
      this.onState("resuming");
      const offset = await this.#head(remembered);
      if (offset !== null) {
        this.#url = remembered;
        this.#offset = offset;
        this.onProgress(offset, this.file.size);
        return;
      }
      this.forget();
    }
    this.onState("creating");
    const response = await this.#fetch(this.endpoint, {
      method: "POST",
      headers: {
        ...this.#headers(),
        "Upload-Length": String(this.file.size),
        "Upload-Metadata": encodeMetadata({
          filename: this.file.name.slice(0, 200),
          filetype: this.file.type || "application/octet-stream",
          ...this.metadata,
        }),
      },
    });
    if (response.status !== 201) throw await problemError(response);
    const location = response.headers.get("Location");
    if (!location) throw new TusError("the server gave no upload URL", { status: 201 });
    this.#url = new URL(location, this.endpoint).href;
    this.#offset = 0;
    this.#remember(this.#url);
  }

  /** The server's offset for `url`, or null when that upload is gone or is another file's. */
  async #head(url) {
    const response = await this.#fetch(url, { method: "HEAD", headers: this.#headers(), cache: "no-store" });
    if (GONE.has(response.status)) return null;
    if (!response.ok) throw await problemError(response);
    const offset = Number(response.headers.get("Upload-Offset"));
    const length = Number(response.headers.get("Upload-Length"));
    if (!Number.isSafeInteger(offset) || length !== this.file.size || offset > length) return null;
    return offset;
  }

  /** Send one chunk from the current offset. XHR, not fetch: fetch reports no upload progress. */
  async #patch() {
    const start = this.#offset;
    const chunk = this.file.slice(start, Math.min(start + this.chunkSize, this.file.size));
    const headers = {
      ...this.#headers(),
      "Upload-Offset": String(start),
      "Content-Type": "application/offset+octet-stream",
    };
    let body = chunk;
    if (this.checksum) {
      body = await chunk.arrayBuffer();
      const digest = await crypto.subtle.digest("SHA-256", body);
      headers["Upload-Checksum"] = `sha256 ${base64(new Uint8Array(digest))}`;
    }
    if (this.#aborted) throw abortError();
    const xhr = new XMLHttpRequest();
    this.#xhr = xhr;
    await new Promise((resolve, reject) => {
      xhr.open("PATCH", this.#url);
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.upload.onprogress = (event) => this.onProgress(start + event.loaded, this.file.size);
      xhr.onload = () => resolve();
      xhr.onerror = () => reject(new TusError("network error", { retryable: true }));
      xhr.ontimeout = xhr.onerror;
      xhr.onabort = () => reject(abortError());
      xhr.send(body);
    });
    this.#xhr = null;
    if (xhr.status !== 204) {
      throw xhrProblem(xhr);
    }
    const offset = Number(xhr.getResponseHeader("Upload-Offset"));
    if (!Number.isSafeInteger(offset) || offset <= start || offset > this.file.size) {
      throw new TusError("the server answered with an unexpected offset", { status: xhr.status, retryable: true });
    }
    this.#offset = offset;
    this.onProgress(offset, this.file.size);
  }

  #headers() {
    return { "Tus-Resumable": TUS_VERSION, ...this.headers };
  }

  /** fetch, with network failures turned into retryable errors and aborts into AbortError. */
  async #fetch(url, init) {
    try {
      return await fetch(url, { ...init, signal: this.#controller.signal });
    } catch (error) {
      if (this.#aborted) throw abortError();
      throw new TusError(String(error?.message ?? error), { retryable: true });
    }
  }

  /** Wait `ms`, or less when the browser comes back online, or until aborted. */
  #sleep(ms) {
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        window.removeEventListener("online", done);
        this.#wake = null;
        if (this.#aborted) reject(abortError());
        else resolve();
      };
      const timer = setTimeout(done, ms);
      window.addEventListener("online", done);
      this.#wake = done;
    });
  }

  #recall() {
    if (this.storageKey === null) return null;
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey) ?? "null");
      if (saved && typeof saved.url === "string" && Date.now() - saved.at < REMEMBER_MS) return saved.url;
      localStorage.removeItem(this.storageKey);
    } catch {
      // Unreadable or disabled storage: behave as if nothing was remembered.
    }
    return null;
  }

  #remember(url) {
    if (this.storageKey === null) return;
    try {
      localStorage.setItem(this.storageKey, JSON.stringify({ url, at: Date.now() }));
    } catch {
      // Full or disabled storage: the upload works, it just cannot resume after a reload.
    }
  }
}

/** `Upload-Metadata`: comma-separated `key base64(UTF-8 value)` pairs. */
function encodeMetadata(values) {
  const encoder = new TextEncoder();
  return Object.entries(values)
    .map(([key, value]) => `${key} ${base64(encoder.encode(value))}`)
    .join(",");
}

/** @param {Uint8Array} bytes */
function base64(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function abortError() {
  return new DOMException("The upload was stopped.", "AbortError");
}

async function problemError(response) {
  let code = null;
  try {
    code = (await response.json())?.code ?? null;
  } catch {
    // Not problem+json (a proxy's error page): the status says enough.
  }
  return new TusError(`HTTP ${response.status}`, {
    status: response.status,
    code,
    retryable: RETRYABLE.has(response.status),
  });
}

function xhrProblem(xhr) {
  let code = null;
  try {
    code = JSON.parse(xhr.responseText)?.code ?? null;
  } catch {
    // As in problemError.
  }
  return new TusError(`HTTP ${xhr.status}`, {
    status: xhr.status,
    code,
    retryable: RETRYABLE.has(xhr.status),
  });
}
