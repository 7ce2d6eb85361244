// The "⋯" menu on another person's profile (templates/profile.html): Block and Unblock, each
// after a confirmation, through the API's idempotent PUT/DELETE. The page then says so (the
// notice under the header) and the menu offers the opposite. Its words come from the page.

import { attachMenu } from "./menu.js";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const root = document.querySelector("[data-block-root]");

function show(blocked) {
  for (const item of root.querySelectorAll("[data-block]")) {
    item.hidden = (item.dataset.block === "block") === blocked;
  }
  const notice = document.querySelector("[data-blocked-notice]");
  if (notice) notice.hidden = !blocked;
}

async function choose(block) {
  if (!window.confirm(block ? root.dataset.blockConfirm : root.dataset.unblockConfirm)) return;
  const status = document.querySelector("[data-block-status]");
  try {
    const response = await fetch(`/api/v1/users/${encodeURIComponent(root.dataset.username)}/block`, {
      method: block ? "PUT" : "DELETE",
      headers: { "X-CSRF-Token": csrf(), Accept: "application/json" },
    });
    if (!response.ok) throw new Error(String(response.status));
  } catch {
    status.textContent = root.dataset.failed;
    return;
  }
  show(block);
  status.textContent = block ? "" : root.dataset.unblocked;
  // Blocking ends follows both ways: the follow button and the counts are the server's to redraw.
  if (block) document.querySelector("[data-blocked-notice]")?.focus();
}

if (root) {
  const button = root.querySelector("[data-block-menu]");
  attachMenu(button, document.getElementById(button.getAttribute("aria-controls")));
  for (const item of root.querySelectorAll("[data-block]")) {
    item.addEventListener("click", () => choose(item.dataset.block === "block"));
  }
}
