// Live notifications for a logged-in viewer: one Server-Sent Events stream per page keeps the
// unread badges current, shows a short toast for each new notification, and on the Inbox page
// puts it at the top of the list (marking it read, since the viewer is looking at it).
// EventSource reconnects by itself after a dropped connection or a server restart.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const script = document.querySelector("script[data-unread-label]"); // modules have no currentScript
const unreadLabel = script?.dataset.unreadLabel || "{n}";
const badges = document.querySelectorAll("[data-unread-badge]");
const inboxList = document.querySelector("[data-inbox-list]");
const toasts = document.querySelector("[data-toasts]");
const TOAST_MS = 5000;

let lastShown = null; // the `updated_at` of the latest notification already on screen

function showUnread(count) {
  for (const badge of badges) {
    badge.hidden = count === 0;
    badge.textContent = count >= 100 ? "99+" : String(count);
    badge.parentElement.setAttribute("data-unread", String(count));
    badge.setAttribute("aria-label", unreadLabel.replace("{n}", String(count)));
  }
}

function linkOf(item) {
  if (item.kind === "follow_request") return "/follow-requests";
  if (item.video) return item.video.page_url;
  if (item.actor) return `/@${item.actor.username}`;
  return "/inbox";
}

function avatarOf(item, size) {
  const actor = item.actor;
  if (actor?.avatar_url) {
    const img = document.createElement("img");
    img.className = "avatar";
    img.src = actor.avatar_url;
    img.alt = "";
    img.width = size;
    img.height = size;
    return img;
  }
  const initial = document.createElement("span");
  initial.className = "avatar avatar-initial";
  initial.style.setProperty("--size", `${size}px`);
  initial.textContent = (actor?.display_name || "?").slice(0, 1).toUpperCase();
  return initial;
}

// One row of the Inbox, built like the server's (text only through textContent: never markup).
function noteRow(item) {
  const row = document.createElement("li");
  row.className = "note is-unread";
  row.dataset.id = item.id;
  const actor = document.createElement(item.actor ? "a" : "span");
  actor.className = "note-actor";
  if (item.actor) {
    actor.href = `/@${item.actor.username}`;
    actor.tabIndex = -1;
    actor.setAttribute("aria-hidden", "true");
  }
  actor.append(avatarOf(item, 44));
  const body = document.createElement("a");
  body.className = "note-body";
  body.href = linkOf(item);
  const text = document.createElement("span");
  text.className = "note-text";
  text.textContent = item.text;
  const time = document.createElement("time");
  time.dateTime = item.updated_at;
  time.textContent = new Intl.RelativeTimeFormat(document.documentElement.lang, { numeric: "auto" }).format(0, "second");
  body.append(text, time);
  row.append(actor, body);
  if (item.video?.poster_url) {
    const poster = document.createElement("a");
    poster.className = "note-poster";
    poster.href = item.video.page_url;
    poster.tabIndex = -1;
    poster.setAttribute("aria-hidden", "true");
    const img = document.createElement("img");
    img.src = item.video.poster_url;
    img.alt = "";
    img.width = 44;
    img.height = 78;
    poster.append(img);
    row.append(poster);
  }
  return row;
}

function toast(item) {
  if (!toasts) return;
  const note = document.createElement("a");
  note.className = "toast";
  note.href = linkOf(item);
  note.append(avatarOf(item, 32));
  const text = document.createElement("span");
  text.textContent = item.text;
  note.append(text);
  toasts.append(note);
  setTimeout(() => note.remove(), TOAST_MS);
}

async function markRead(upTo) {
  try {
    await fetch("/api/v1/notifications/read", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({ up_to: upTo }),
    });
  } catch {
    // Offline: the items stay unread and are marked on the next visit.
  }
}

function onInboxPage(item) {
  inboxList.querySelector(`[data-id="${CSS.escape(item.id)}"]`)?.remove();
  inboxList.prepend(noteRow(item));
  document.querySelector("[data-inbox-empty]")?.remove();
  markRead(item.id);
}

function connect() {
  const source = new EventSource("/api/v1/notifications/stream");
  let first = true;
  source.addEventListener("notifications", (event) => {
    const { unread_count: unread, latest } = JSON.parse(event.data);
    showUnread(inboxList ? 0 : unread);
    const fresh = latest && !latest.read && latest.updated_at !== lastShown;
    if (latest) lastShown = latest.updated_at;
    if (first) {
      first = false; // what was there before this page opened is not news
      return;
    }
    if (!fresh) return;
    if (inboxList) onInboxPage(latest);
    else toast(latest);
  });
}

if (inboxList?.dataset.markRead) markRead(inboxList.dataset.markRead);
if ("EventSource" in window) connect();
