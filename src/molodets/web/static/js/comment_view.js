// One comment in the comment sheet (comments.js): author, badges, the text (always set as text,
// never as HTML), a like toggle with its count, replies on demand, and a menu of what this viewer
// may do to it (pin or unpin for the video's author on top comments; delete for the comment's
// author and the video's author). The sheet does what needs the list (delete, pin, reply).

import { attachMenu } from "./menu.js";

let menus = 0;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function icon(name) {
  const sprite = document.querySelector("svg.icon use")?.getAttribute("href")?.split("#")[0] ?? "";
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", `${sprite}#${name}`);
  svg.append(use);
  return svg;
}

function button(className, text) {
  const node = element("button", className, text);
  node.type = "button";
  return node;
}

/**
 * @typedef {object} CommentContext
 * @property {Record<string, any>} strings  the player's translated strings
 * @property {Intl.NumberFormat} number
 * @property {string|null} viewer  the viewer's username (null for a guest)
 * @property {string} videoAuthor  the username of the video's author
 * @property {string} loginUrl
 * @property {(comment: object) => void} reply
 * @property {(comment: object, node: HTMLElement) => void} remove
 * @property {(comment: object, pin: boolean) => void} pin
 * @property {(comment: object, thread: HTMLElement) => void} openThread
 * @property {(method: string, path: string) => Promise<any>} send  throws an Error whose message is the problem code
 * @property {(message: string) => void} say
 */

/** @param {object} comment  a comment of the API  @param {CommentContext} ctx */
export function renderComment(comment, ctx) {
  const strings = ctx.strings;
  const li = element("li", comment.pinned ? "comment is-pinned" : "comment");
  li.dataset.commentId = comment.id;
  const body = element("div", "comment-body");
  const head = element("p", "comment-head");
  const author = element("a", "", comment.author.display_name);
  author.href = `/@${encodeURIComponent(comment.author.username)}`;
  head.append(author);
  for (const [flag, label] of [
    [comment.by_video_author, strings.by_author],
    [comment.pinned, strings.pinned],
  ]) {
    if (flag) head.append(" ", element("span", "comment-badge", label));
  }
  const actions = element("p", "comment-actions");
  if (ctx.viewer) {
    const reply = button("comment-reply", strings.reply);
    reply.addEventListener("click", () => ctx.reply(comment));
    actions.append(reply);
  }
  body.append(head, element("p", "comment-text", comment.text), actions);
  const side = element("div", "comment-side");
  side.append(likeButton(comment, ctx));
  const menu = actionMenu(comment, li, ctx);
  if (menu) side.append(menu);
  li.append(body, side);
  if (!comment.thread_id) {
    const thread = element("ol", "comment-thread");
    li.append(thread);
    if (comment.replies > 0) {
      const open = button("", strings.view_replies.replace("{count}", ctx.number.format(comment.replies)));
      open.addEventListener("click", () => {
        open.remove();
        ctx.openThread(comment, thread);
      });
      actions.append(open);
    }
  }
  return li;
}

/** The heart and count: changes at once, the server's answer sets the count, an error undoes it. */
function likeButton(comment, ctx) {
  const label = ctx.strings.like_comment.replace("{name}", comment.author.display_name);
  const count = element("span", "comment-like-count");
  if (!ctx.viewer) {
    const link = element("a", "comment-like");
    link.href = ctx.loginUrl;
    link.append(icon("heart"), element("span", "visually-hidden", label), count);
    count.textContent = ctx.number.format(comment.likes);
    return link;
  }
  const like = button("comment-like");
  like.append(icon("heart"), element("span", "visually-hidden", label), count);
  const paint = () => {
    like.setAttribute("aria-pressed", String(comment.liked_by_you));
    count.textContent = ctx.number.format(comment.likes);
  };
  paint();
  let busy = false;
  like.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    const want = !comment.liked_by_you;
    comment.liked_by_you = want;
    comment.likes += want ? 1 : -1;
    paint();
    try {
      const answer = await ctx.send(want ? "PUT" : "DELETE", `/api/v1/comments/${comment.id}/like`);
      comment.likes = answer.likes;
    } catch (error) {
      comment.liked_by_you = !want;
      comment.likes += want ? -1 : 1;
      ctx.say(ctx.strings.problems[error.message] ?? ctx.strings.action_failed);
    }
    busy = false;
    paint();
  });
  return like;
}

function actionMenu(comment, li, ctx) {
  const strings = ctx.strings;
  const ownsVideo = Boolean(ctx.viewer) && ctx.viewer === ctx.videoAuthor;
  const wrote = Boolean(ctx.viewer) && ctx.viewer === comment.author.username;
  const choices = [];
  if (ownsVideo && !comment.thread_id) {
    choices.push([comment.pinned ? strings.unpin : strings.pin, () => ctx.pin(comment, !comment.pinned)]);
  }
  if (ownsVideo || wrote) choices.push([strings.delete, () => ctx.remove(comment, li)]);
  if (!choices.length) return null;
  const wrap = element("div", "menu-wrap");
  const toggle = button("comment-menu-button");
  const id = `comment-menu-${(menus += 1)}`;
  toggle.setAttribute("aria-haspopup", "menu");
  toggle.setAttribute("aria-controls", id);
  toggle.setAttribute("aria-label", strings.comment_actions.replace("{name}", comment.author.display_name));
  toggle.append(element("span", "", "⋯"));
  toggle.firstChild.setAttribute("aria-hidden", "true");
  const menu = element("ul", "action-menu");
  menu.id = id;
  menu.setAttribute("role", "menu");
  menu.hidden = true;
  for (const [text, action] of choices) {
    const item = element("li");
    item.setAttribute("role", "none");
    const choice = button("", text);
    choice.setAttribute("role", "menuitem");
    choice.addEventListener("click", action);
    item.append(choice);
    menu.append(item);
  }
  wrap.append(toggle, menu);
  attachMenu(toggle, menu);
  return wrap;
}
