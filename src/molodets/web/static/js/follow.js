// The profile's follow button and the follow requests page, through the API without reloading.
// Both are plain forms that work without this file (social/pages.py); here a submit becomes the
// API's idempotent PUT/DELETE, and the page changes from the answer. A refusal or a network error
// falls back to submitting the form, so the server's error page explains what went wrong.

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

async function send(method, path) {
  const response = await fetch(path, { method, headers: { "X-CSRF-Token": csrf(), Accept: "application/json" } });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
  return response.status === 204 ? null : response.json();
}

const userPath = (username) => encodeURIComponent(username);

// --- the profile's follow button --------------------------------------------------------------

function paintFollow(form, state) {
  const labels = JSON.parse(form.dataset.labels);
  const button = form.querySelector("[data-follow-button]");
  form.dataset.state = state;
  form.querySelector("[data-follow-action]").value = state === "none" ? "follow" : "unfollow";
  button.textContent = labels[state];
  button.classList.toggle("btn-primary", state === "none");
  button.classList.toggle("btn-ghost", state !== "none");
}

function showFollowers(count) {
  const node = document.querySelector('[data-count="followers"]');
  if (!node || !node.dataset.forms) return;
  const forms = JSON.parse(node.dataset.forms);
  const locale = document.documentElement.lang || "ru";
  // As the server words it (web/i18n.py format_count): compact from 1000, "1,2 тыс. подписчиков".
  const form = forms[new Intl.PluralRules(locale).select(count >= 1000 ? 1000 : count)] || forms.other;
  const shown = new Intl.NumberFormat(locale, { notation: count >= 1000 ? "compact" : "standard", maximumFractionDigits: 1 });
  node.textContent = form.replace("%(num)s", shown.format(count));
}

function wireFollow(form) {
  let busy = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    const was = form.dataset.state;
    const path = `/api/v1/users/${userPath(form.dataset.username)}/follow`;
    try {
      const answer = await send(was === "none" ? "PUT" : "DELETE", path);
      const state = answer.following ? "following" : answer.requested ? "requested" : "none";
      // Unfollowing a private account hides its videos: the server renders that page.
      if (form.dataset.private === "true" && was === "following" && state !== "following") {
        location.reload();
        return;
      }
      paintFollow(form, state);
      showFollowers(answer.followers);
    } catch {
      form.submit();
    } finally {
      busy = false;
    }
  });
}

// --- the follow requests page -----------------------------------------------------------------

function wireRequests(list) {
  for (const form of list.querySelectorAll("form[data-request-action]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const item = form.closest("[data-request]");
      const approve = form.dataset.requestAction === "approve";
      for (const button of item.querySelectorAll("button")) button.disabled = true;
      try {
        await send(approve ? "PUT" : "DELETE", `/api/v1/me/follow-requests/${userPath(item.dataset.request)}`);
        const status = item.querySelector("[data-request-status]");
        status.textContent = approve ? list.dataset.approved : list.dataset.declined;
        status.hidden = false;
        item.querySelector(".request-buttons").remove();
      } catch {
        form.submit();
      }
    });
  }
}

for (const form of document.querySelectorAll("form[data-follow-form]")) wireFollow(form);
for (const list of document.querySelectorAll("[data-requests]")) wireRequests(list);
