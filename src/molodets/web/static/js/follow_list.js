// Endless follower and following lists (templates/follow_list.html): when the "More" link comes
// near the screen, the next page is read from the social API and its people are added; the link
// then points at the page after it. Without this script (or if it fails) the link itself opens
// the next page, rendered by the server. Rows built here match templates/_follow.html.

import { endlessList } from "./endless.js";
import { paintFollow, wireFollowButtons } from "./follow_button.js";

const config = JSON.parse(document.getElementById("list-config")?.textContent || "null");
const list = document.querySelector("[data-people]");
const more = document.querySelector("[data-list-more]");
const status = document.querySelector("[data-list-status]");

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function followButton(person) {
  const strings = config.strings;
  const username = person.user.username;
  if (!config.viewer) {
    const link = element("a", "btn btn-primary btn-small follow-button", strings.follow);
    link.href = config.login_url;
    link.setAttribute("aria-describedby", `person-${person.user.id}`);
    return link;
  }
  if (config.viewer === username) return null;
  const form = element("form", "follow-form");
  form.method = "post";
  form.action = `/@${encodeURIComponent(username)}/follow`;
  form.dataset.followToggle = username;
  const action = element("input");
  Object.assign(action, { type: "hidden", name: "action" });
  action.dataset.followAction = "";
  const button = element("button", "btn btn-small follow-button");
  button.type = "submit";
  button.dataset.followLabel = strings.follow;
  button.dataset.unfollowLabel = strings.unfollow;
  button.dataset.requestedLabel = strings.requested;
  button.setAttribute("aria-describedby", `person-${person.user.id}`);
  form.append(action, button);
  paintFollow(form, person.followed_by_you ? "following" : "none");
  return form;
}

function row(person) {
  const user = person.user;
  const item = element("li", "person");
  const link = element("a", "person-link");
  link.href = `/@${encodeURIComponent(user.username)}`;
  if (user.avatar_url) {
    const img = element("img", "avatar");
    Object.assign(img, { src: user.avatar_url, alt: "", width: 48, height: 48, loading: "lazy", decoding: "async" });
    link.append(img);
  } else {
    const initial = element("span", "avatar avatar-initial", (user.display_name || "?").slice(0, 1).toUpperCase());
    initial.style.setProperty("--size", "48px");
    initial.setAttribute("aria-hidden", "true");
    link.append(initial);
  }
  const names = element("span", "person-names");
  const name = element("span", "person-name", user.display_name);
  name.id = `person-${user.id}`;
  const handle = element("span", "person-username", `@${user.username}`);
  if (person.follows_you) handle.append(" · ", element("span", "person-badge", config.strings.follows_you));
  names.append(name, handle);
  link.append(names);
  item.append(link);
  const button = followButton(person);
  if (button) item.append(button);
  return item;
}

if (config) {
  wireFollowButtons(document, () => {
    if (status) status.textContent = config.strings.follow_failed;
  });
  endlessList({
    container: list,
    more,
    api: config.api,
    limit: config.limit,
    render: row,
    onError: () => {
      if (status) status.textContent = config.strings.error;
    },
  });
}
