// Follow buttons in the follower and following lists (form[data-follow-toggle="username"],
// templates/_follow.html): the form posts to the profile's follow form without this script;
// with it, a submit becomes the API's idempotent PUT/DELETE. The button changes at once and the
// server's answer settles it (a private account answers "requested"); a refusal puts it back.
// Each button carries its own labels, so this script never translates.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

/** Show `state` ("none", "following" or "requested") on a follow form's button. */
export function paintFollow(form, state) {
  const button = form.querySelector("button");
  const on = state !== "none";
  form.dataset.state = state;
  const action = form.querySelector("[data-follow-action]");
  if (action) action.value = on ? "unfollow" : "follow";
  // The label names what a press does: follow, unfollow, or withdraw the request ("Requested").
  const labels = button.dataset;
  button.textContent = state === "following" ? labels.unfollowLabel : state === "requested" ? labels.requestedLabel : labels.followLabel;
  button.classList.toggle("btn-primary", !on);
  button.classList.toggle("btn-ghost", on);
}

async function toggle(form, onError) {
  if (form.dataset.busy) return;
  form.dataset.busy = "1";
  const was = form.dataset.state || "none";
  // Following or asked: the button undoes it (unfollow, or withdraw the request).
  const method = was === "none" ? "PUT" : "DELETE";
  paintFollow(form, method === "PUT" ? "following" : "none");
  try {
    const response = await fetch(`/api/v1/users/${encodeURIComponent(form.dataset.followToggle)}/follow`, {
      method,
      headers: { "X-CSRF-Token": csrf(), Accept: "application/json" },
    });
    if (!response.ok) throw new Error(String(response.status));
    const answer = await response.json();
    paintFollow(form, answer.following ? "following" : answer.requested ? "requested" : "none");
  } catch {
    paintFollow(form, was);
    onError?.();
  } finally {
    delete form.dataset.busy;
  }
}

/** Drive every follow form inside `root`, also those added later (one listener). */
export function wireFollowButtons(root, onError) {
  root.addEventListener("submit", (event) => {
    const form = event.target.closest?.("form[data-follow-toggle]");
    if (!form) return;
    event.preventDefault();
    toggle(form, onError);
  });
}
