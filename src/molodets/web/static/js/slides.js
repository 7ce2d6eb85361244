// Filling a pooled slide (templates/_player_slide.html) with one video's data. Slides are
// recycled as the viewer swipes, so everything a previous video set is overwritten here.

import { captionParts } from "./caption.js";

const compact = new Intl.NumberFormat(document.documentElement.lang || undefined, {
  notation: "compact",
  maximumFractionDigits: 1,
});

export function fill(text, values) {
  return text.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? "");
}

export function videoPath(item) {
  return `/@${encodeURIComponent(item.author.username)}/video/${item.id}`;
}

function captionNodes(caption) {
  return captionParts(caption).map((part) => {
    if (!part.kind) return document.createTextNode(part.text);
    const link = document.createElement("a");
    link.textContent = part.text;
    const name = part.text.slice(1);
    link.href =
      part.kind === "tag" ? `/tag/${encodeURIComponent(name.toLowerCase())}` : `/@${encodeURIComponent(name.toLowerCase())}`;
    return link;
  });
}

/** Show one of a slide's counters ("likes", "shares", ...) in the compact local form. */
export function showCount(slide, key, value) {
  const count = slide.querySelector(`[data-count="${key}"]`);
  if (count) count.textContent = compact.format(value);
}

/** Put `item` into `slide` (no media: the player decides when the video gets its source and
 *  its poster). */
export function fillSlide(slide, item, { strings }) {
  const author = item.author;
  slide.dataset.videoId = item.id;
  slide.setAttribute("aria-label", fill(strings.video_by, { name: author.display_name }));
  slide.classList.toggle("is-landscape", Boolean(item.width && item.height && item.width > item.height));
  slide.classList.remove("is-paused");
  if (item.placeholder) slide.style.setProperty("--placeholder", item.placeholder);
  else slide.style.removeProperty("--placeholder");

  // Not the new poster yet: the player shows it when the slide may fetch (player.js, showPoster).
  slide.querySelector("video").removeAttribute("poster");

  const profile = `/@${encodeURIComponent(author.username)}`;
  slide.querySelector("[data-author-link]").href = profile;
  slide.querySelector("[data-display-name]").textContent = author.display_name;
  slide.querySelector("[data-username]").textContent = `@${author.username}`;
  slide.querySelector("[data-caption]").replaceChildren(...captionNodes(item.caption || ""));

  const avatarLink = slide.querySelector("[data-author-avatar]");
  avatarLink.href = profile;
  avatarLink.setAttribute("aria-label", fill(strings.profile_of, { name: author.display_name }));
  const img = slide.querySelector("[data-avatar-img]");
  const initial = slide.querySelector("[data-avatar-initial]");
  if (author.avatar_url) {
    img.src = author.avatar_url;
    img.hidden = false;
    initial.hidden = true;
  } else {
    img.removeAttribute("src");
    img.hidden = true;
    initial.hidden = false;
    initial.textContent = (author.display_name || "?").slice(0, 1).toUpperCase();
  }
  slide.querySelector("[data-follow]").setAttribute("aria-label", fill(strings.follow, { name: author.display_name }));

  for (const [key, value] of Object.entries(item.counts)) showCount(slide, key, value);
  const progress = slide.querySelector("[data-progress]");
  progress.setAttribute("aria-valuemax", String(Math.round((item.duration_ms || 0) / 100) / 10));
  progress.setAttribute("aria-valuenow", "0");
  progress.removeAttribute("aria-valuetext");
  slide.querySelector("[data-progress-fill]").style.transform = "scaleX(0)";
}
