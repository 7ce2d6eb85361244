// The embed (templates/embed.html): tap to play or pause, a sound button. Nothing else.

const root = document.querySelector("[data-embed]");
const video = root.querySelector("video");
const toggle = root.querySelector("[data-toggle]");
const sound = root.querySelector("[data-sound]");
const strings = JSON.parse(document.getElementById("embed-strings").textContent);

function show() {
  const playing = !video.paused;
  root.classList.toggle("is-playing", playing);
  toggle.setAttribute("aria-label", playing ? strings.pause : strings.play);
  sound.classList.toggle("is-audible", !video.muted);
  sound.setAttribute("aria-pressed", String(!video.muted));
  sound.querySelector("[data-sound-label]").textContent = video.muted ? strings.sound_on : strings.sound_off;
}

toggle.addEventListener("click", () => {
  if (video.paused) video.play().catch(() => {});
  else video.pause();
});
sound.addEventListener("click", () => {
  video.muted = !video.muted;
  if (video.paused) video.play().catch(() => {});
});
for (const name of ["play", "pause", "volumechange"]) video.addEventListener(name, show);
show();
