// The progress bar of a slide: painted every frame by the player, scrubbed with a pointer
// (mouse, finger, pen) or the keyboard (arrows ±1 s, Page Up/Down ±5 s, Home, End).

import { fill } from "./slides.js";

function formatTime(seconds) {
  const whole = Math.max(0, Math.floor(seconds || 0));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

function seek(slide, seconds) {
  const video = slide.querySelector("video");
  if (!video.duration) return;
  video.currentTime = Math.min(Math.max(0, seconds), video.duration - 0.05);
  paintProgress(slide, video);
}

export function paintProgress(slide, video) {
  const share = video.duration ? video.currentTime / video.duration : 0;
  slide.querySelector("[data-progress-fill]").style.transform = `scaleX(${share})`;
}

export function describeProgress(slide, video, strings) {
  const bar = slide.querySelector("[data-progress]");
  bar.setAttribute("aria-valuenow", String(Math.round(video.currentTime * 10) / 10));
  if (video.duration) bar.setAttribute("aria-valuemax", String(Math.round(video.duration * 10) / 10));
  bar.setAttribute(
    "aria-valuetext",
    fill(strings.position, { current: formatTime(video.currentTime), total: formatTime(video.duration) }),
  );
}

/** Make the slide's bar scrubbable (once per pooled slide: it stays wired as videos change). */
export function wireProgress(slide, video, strings) {
  const bar = slide.querySelector("[data-progress]");
  const seekTo = (event) => {
    const rect = bar.getBoundingClientRect();
    seek(slide, ((event.clientX - rect.left) / rect.width) * (video.duration || 0));
  };
  bar.addEventListener("pointerdown", (event) => {
    bar.setPointerCapture(event.pointerId);
    bar.classList.add("is-scrubbing");
    seekTo(event);
  });
  bar.addEventListener("pointermove", (event) => {
    if (bar.hasPointerCapture(event.pointerId)) seekTo(event);
  });
  const stop = () => bar.classList.remove("is-scrubbing");
  bar.addEventListener("pointerup", stop);
  bar.addEventListener("pointercancel", stop);
  bar.addEventListener("keydown", (event) => {
    const steps = { ArrowLeft: -1, ArrowRight: 1, PageDown: -5, PageUp: 5 };
    if (event.key in steps) seek(slide, video.currentTime + steps[event.key]);
    else if (event.key === "Home") seek(slide, 0);
    else if (event.key === "End") seek(slide, video.duration);
    else return;
    event.preventDefault();
    event.stopPropagation();
    describeProgress(slide, video, strings);
  });
}
