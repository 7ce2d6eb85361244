// Upload speed and time left, smoothed so the numbers do not jump with every progress event.

// Weight of the newest sample in the running average of the speed: a few seconds of memory.
const SMOOTHING = 0.2;
// Shorter samples say more about the browser's event timing than about the network.
const MIN_SAMPLE_MS = 250;
// Below this the speed is shown in KB/s: "0.1 MB/s" hides the difference between 50 and 140 KB/s.
const KB_BELOW = 1e6;

export class TransferMeter {
  constructor() {
    this.reset();
  }

  /** Forget the past: after a pause, a retry or a resume the old speed says nothing. */
  reset() {
    this.rate = null; // bytes per second, smoothed
    this.lastAt = null;
    this.lastBytes = null;
  }

  /** @param {number} bytes  sent so far (it may go back after a resume: that starts anew) */
  sample(bytes, now = performance.now()) {
    if (this.lastAt === null || bytes < this.lastBytes) {
      this.lastAt = now;
      this.lastBytes = bytes;
      return;
    }
    const elapsed = now - this.lastAt;
    if (elapsed < MIN_SAMPLE_MS) return;
    const current = ((bytes - this.lastBytes) * 1000) / elapsed;
    this.rate = this.rate === null ? current : this.rate + SMOOTHING * (current - this.rate);
    this.lastAt = now;
    this.lastBytes = bytes;
  }

  /** Seconds until `remaining` bytes are sent at the current speed, or null before it is known. */
  secondsLeft(remaining) {
    if (!this.rate || this.rate <= 0) return null;
    return remaining / this.rate;
  }
}

/** Formats speeds and durations in the reader's language with Intl (no translated strings). */
export class TransferFormat {
  constructor(locale) {
    const unit = (name, digits) =>
      new Intl.NumberFormat(locale, { style: "unit", unit: name, maximumFractionDigits: digits });
    this.mbps = unit("megabyte-per-second", 1);
    this.kbps = unit("kilobyte-per-second", 0);
    this.seconds = new Intl.NumberFormat(locale, { style: "unit", unit: "second", unitDisplay: "long" });
    this.minutes = new Intl.NumberFormat(locale, { style: "unit", unit: "minute", unitDisplay: "long" });
    this.hours = new Intl.NumberFormat(locale, {
      style: "unit",
      unit: "hour",
      unitDisplay: "long",
      maximumFractionDigits: 1,
    });
  }

  speed(bytesPerSecond) {
    if (bytesPerSecond < KB_BELOW) return this.kbps.format(bytesPerSecond / 1e3);
    return this.mbps.format(bytesPerSecond / 1e6);
  }

  /** "12 seconds", "3 minutes", "1.5 hours": rounded up, as precise as a waiting person needs. */
  duration(seconds) {
    if (seconds < 60) return this.seconds.format(Math.max(1, Math.ceil(seconds)));
    if (seconds < 3600) return this.minutes.format(Math.ceil(seconds / 60));
    return this.hours.format(Math.round(seconds / 360) / 10);
  }
}

// Speed and time left are redrawn at most this often: readable, not flickering.
const REDRAW_MS = 1000;

/** The "2,1 МБ/с · Осталось 12 секунд" line under the progress bar. */
export class TransferLine {
  /**
   * @param {{line: HTMLElement, speed: HTMLElement, eta: HTMLElement}} el
   * @param {{locale: string, timeLeft: string}} options  `timeLeft` holds a "{time}" slot
   */
  constructor(el, { locale, timeLeft }) {
    this.el = el;
    this.timeLeft = timeLeft;
    this.meter = new TransferMeter();
    this.format = new TransferFormat(locale);
    this.shownAt = 0;
  }

  /** Start measuring anew (after a pause, a retry or a resume), and hide the line till then. */
  reset() {
    this.meter.reset();
    this.hide();
  }

  hide() {
    this.el.line.hidden = true;
  }

  update(sent, total, now = performance.now()) {
    this.meter.sample(sent, now);
    if (now - this.shownAt < REDRAW_MS) return;
    this.shownAt = now;
    const left = sent < total ? this.meter.secondsLeft(total - sent) : null;
    if (left === null) {
      this.hide();
      return;
    }
    this.el.speed.textContent = this.format.speed(this.meter.rate);
    this.el.eta.textContent = this.timeLeft.replace("{time}", this.format.duration(left));
    this.el.line.hidden = false;
  }
}
