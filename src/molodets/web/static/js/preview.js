// The clip on the create page: it plays from the local file the moment it is chosen (or
// recorded), and the server's rendition takes its place only once that can play, so the screen
// is never blank while the creator waits.

export class Preview {
  /**
   * @param {Record<string, HTMLElement>} el  preview, noPreview, sound, soundLabel, pause, pauseLabel
   * @param {Record<string, string>} strings  the page's strings (labels of the buttons)
   */
  constructor(el, strings) {
    this.el = el;
    this.strings = strings;
    this.player = null; // the <video> on screen
    this.nextPlayer = null; // a server version loading behind it
    this.localUrl = null;
    this.userPaused = false;
    el.sound.addEventListener("click", () => this.#toggleSound());
    el.pause.addEventListener("click", () => this.togglePause());
  }

  /** @param {File} file */
  showLocal(file) {
    const { el } = this;
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
      el.noPreview.textContent = this.strings.no_preview;
      el.noPreview.hidden = false;
    });
    el.noPreview.hidden = true;
    this.userPaused = false;
    player.src = this.localUrl;
    el.preview.prepend(player);
    this.player = player;
    el.preview.hidden = false;
    this.#syncControls();
    player.play().catch(() => {});
    return this.localUrl;
  }

  /** Hide the clip (when the creator goes back to the camera). */
  hide() {
    this.player?.pause();
    this.el.preview.hidden = true;
  }

  show() {
    this.el.preview.hidden = false;
    if (this.player && !this.userPaused) this.player.play().catch(() => {});
  }

  /**
   * Put the server's best rendition for this screen on, once it can play.
   * @param {{renditions: Array<{width: number, height: number, url: string}>, poster_url: string|null}} video
   */
  offerServer(video) {
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
        if (this.nextPlayer === player) this.#swapTo(player);
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

  togglePause() {
    const { player } = this;
    if (!player) return;
    if (player.paused) player.play().catch(() => {});
    else player.pause();
    this.userPaused = player.paused;
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
    player.addEventListener("click", () => this.togglePause());
    player.addEventListener("play", () => this.#syncControls());
    player.addEventListener("pause", () => this.#syncControls());
    return player;
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
}
