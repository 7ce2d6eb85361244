// The player's like, save and follow buttons: idempotent PUT/DELETE toggles of the social API.
// The button changes at once (the tap must feel instant); the server's answer then sets the
// count, and a refusal puts the button back.

import { showCount } from "./slides.js";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

const TOGGLES = {
  like: { state: "liked", count: "likes", path: (item) => `/api/v1/videos/${item.id}/like` },
  save: { state: "bookmarked", count: "bookmarks", path: (item) => `/api/v1/videos/${item.id}/bookmark` },
};

// The player's words (templates/_player.html), for the follow button's "requested" state.
const strings = JSON.parse(document.getElementById("player-strings")?.textContent || "{}");
const fill = (text, name) => (text || "").replace("{name}", name);

/** Show the viewer's own state on a slide's buttons (pressed like and save, follow hidden). */
export function showViewerState(slide, item, viewer) {
  for (const [action, toggle] of Object.entries(TOGGLES)) {
    const button = slide.querySelector(`[data-action="${action}"]`);
    button.setAttribute("aria-pressed", String(Boolean(item.viewer?.[toggle.state])));
  }
  const follow = slide.querySelector("[data-follow]");
  follow.hidden = viewer === item.author.username || Boolean(item.viewer?.following_author);
  paintRequested(follow, item);
}

/** A follow request waiting for a private account's approval: the button stays, pressed, and
 * pressing it again withdraws the request. */
function paintRequested(button, item) {
  const requested = Boolean(item.viewer?.follow_requested);
  button.classList.toggle("is-requested", requested);
  if (button.tagName !== "BUTTON") return;
  button.setAttribute("aria-pressed", String(requested));
  const label = requested ? strings.follow_requested : strings.follow;
  if (label) button.setAttribute("aria-label", fill(label, item.author.display_name));
}

async function send(method, path) {
  const response = await fetch(path, { method, headers: { "X-CSRF-Token": csrf(), Accept: "application/json" } });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
  return response.status === 204 ? null : response.json();
}

/**
 * Like or save (`action`), or undo it; `force` = true only turns it on (a double tap likes,
 * never unlikes). Every slide showing `item` is updated through `slidesOf(item)`.
 */
export async function toggle(action, item, slidesOf, force = false) {
  const spec = TOGGLES[action];
  item.viewer ??= { liked: false, bookmarked: false, following_author: false };
  const was = item.viewer[spec.state];
  const want = force ? true : !was;
  if (want === was) return;
  const paint = () => {
    for (const slide of slidesOf(item)) {
      slide.querySelector(`[data-action="${action}"]`).setAttribute("aria-pressed", String(item.viewer[spec.state]));
      showCount(slide, spec.count, item.counts[spec.count]);
    }
  };
  item.viewer[spec.state] = want;
  item.counts[spec.count] += want ? 1 : -1;
  paint();
  try {
    const answer = await send(want ? "PUT" : "DELETE", spec.path(item));
    item.counts[spec.count] = answer[spec.count];
  } catch {
    item.viewer[spec.state] = was;
    item.counts[spec.count] += want ? -1 : 1;
  }
  paint();
}

/**
 * Follow the item's author; every slide of that author loses its follow button. A private
 * account is asked instead: the button stays as "requested", and pressing it again withdraws.
 */
export async function follow(item, slidesOf, allItems) {
  const mine = allItems.filter((other) => other.author.username === item.author.username);
  const set = (state) => {
    for (const other of mine) {
      other.viewer ??= { liked: false, bookmarked: false, following_author: false };
      other.viewer.following_author = state === "following";
      other.viewer.follow_requested = state === "requested";
      for (const slide of slidesOf(other)) {
        const button = slide.querySelector("[data-follow]");
        button.hidden = state === "following";
        paintRequested(button, other);
      }
    }
  };
  const path = `/api/v1/users/${encodeURIComponent(item.author.username)}/follow`;
  const was = item.viewer?.follow_requested ? "requested" : "none";
  set(was === "requested" ? "none" : "following");
  try {
    const answer = await send(was === "requested" ? "DELETE" : "PUT", path);
    set(answer.following ? "following" : answer.requested ? "requested" : "none");
  } catch {
    set(was);
  }
}
