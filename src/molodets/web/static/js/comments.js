// The player's comment sheet: a native modal <dialog> (focus is held inside it, Escape closes
// it) over the playing video. Top or newest comments (the pinned one leads either way), threads
// opened on demand, likes, a menu to pin or delete (comment_view.js builds each comment), and a
// form that comments or replies through the API. Where the viewer may not comment (comments off,
// followers only) a sentence says so in place of the form. Text is always set as text, never as HTML.

import { renderComment } from "./comment_view.js";
import { showCount } from "./slides.js";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";
const PAGE = "20";

export class CommentSheet {
  /**
   * @param {HTMLDialogElement} dialog
   * @param {{strings: Record<string, any>, slidesOf: (item: object) => HTMLElement[], viewer: string|null}} options
   */
  constructor(dialog, { strings, slidesOf, viewer }) {
    this.dialog = dialog;
    this.strings = strings;
    this.slidesOf = slidesOf;
    this.viewer = viewer;
    const $ = (name) => dialog.querySelector(`[data-comments-${name}]`);
    this.list = $("list");
    this.status = $("status");
    this.more = $("more");
    this.form = $("form");
    this.replying = $("replying");
    this.closed = $("closed");
    this.login = $("login");
    this.sortButtons = [...dialog.querySelectorAll("[data-comments-sort]")];
    this.item = null;
    this.cursor = null;
    this.parentId = null;
    this.sort = "top";
    // Each (re)load of the list gets a number; an answer for an older one is dropped.
    this.generation = 0;
    // The comments shown, by id: a reply or a deletion updates its thread's count.
    this.shown = new Map();
    this.number = new Intl.NumberFormat(document.documentElement.lang || undefined);
    $("close").addEventListener("click", () => dialog.close());
    // A click on the backdrop (outside the sheet's box) closes it, as on phones.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close();
    });
    this.more.addEventListener("click", () => {
      if (this.cursor) this.#load();
    });
    for (const button of this.sortButtons) {
      button.addEventListener("click", () => this.#order(button.dataset.commentsSort));
    }
    this.form?.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#post();
    });
    this.context = {
      strings,
      number: this.number,
      viewer,
      videoAuthor: "",
      loginUrl: this.login?.querySelector("a")?.getAttribute("href") ?? "/login",
      reply: (comment) => this.#replyTo(comment),
      remove: (comment, node) => this.#remove(comment, node),
      pin: (comment, pin) => this.#pin(comment, pin),
      openThread: (comment, thread) => this.#openThread(comment, thread),
      send: (method, path, body) => this.#send(method, path, body),
      say: (message) => {
        this.status.textContent = message;
      },
    };
  }

  open(item) {
    this.item = item;
    this.context.videoAuthor = item.author.username;
    this.#showWriting(this.#closedReason());
    this.dialog.showModal();
    this.#reload();
  }

  /** Why the viewer may not comment on this video now (a problem code), or null. */
  #closedReason() {
    const item = this.item;
    if (this.viewer && this.viewer === item.author.username) return null;
    if (!item.comments_enabled) return "comments_off";
    if (item.comment_audience === "followers" && !item.viewer?.following_author) return "comments_followers_only";
    return null;
  }

  #showWriting(code) {
    this.closedCode = code;
    this.dialog.classList.toggle("is-closed", Boolean(code));
    if (this.form) this.form.hidden = Boolean(code);
    // A guest may log in and follow to comment on a followers-only video; not where comments are off.
    if (this.login) this.login.hidden = code === "comments_off";
    this.closed.hidden = !code;
    this.closed.textContent = code ? this.strings.problems[code] : "";
    if (code) this.#replyTo(null);
  }

  #order(sort) {
    if (sort === this.sort) return;
    this.sort = sort;
    for (const button of this.sortButtons) {
      button.setAttribute("aria-pressed", String(button.dataset.commentsSort === sort));
    }
    this.#reload();
  }

  #reload() {
    this.generation += 1;
    this.cursor = null;
    this.shown.clear();
    this.#replyTo(null);
    this.list.replaceChildren();
    this.status.textContent = "";
    return this.#load();
  }

  async #load() {
    const generation = this.generation;
    const query = new URLSearchParams({ sort: this.sort, limit: PAGE });
    if (this.cursor) query.set("cursor", this.cursor);
    this.more.hidden = true;
    const body = await this.#read(`/api/v1/videos/${this.item.id}/comments?${query}`);
    if (!body || generation !== this.generation) return;
    for (const comment of body.items) this.list.append(this.#render(comment));
    this.cursor = body.next_cursor;
    this.more.hidden = !this.cursor;
    if (!this.list.children.length && !this.closedCode) this.status.textContent = this.strings.no_comments;
  }

  async #read(url) {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) return await response.json();
    } catch {
      // shown below
    }
    this.status.textContent = this.strings.comments_failed;
    return null;
  }

  /** An API call that changes something; throws an Error whose message is the problem code. */
  async #send(method, path, body) {
    const headers = { "X-CSRF-Token": csrf(), Accept: "application/json" };
    if (body) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      throw new Error(problem.code || "http_error");
    }
    return response.status === 204 ? null : response.json();
  }

  #render(comment) {
    this.shown.set(comment.id, comment);
    return renderComment(comment, this.context);
  }

  async #openThread(comment, thread) {
    const body = await this.#read(`/api/v1/comments/${comment.id}/replies?limit=100`);
    for (const reply of body?.items ?? []) thread.append(this.#render(reply));
  }

  #replyTo(comment) {
    this.parentId = comment ? comment.id : null;
    if (!this.replying) return;
    this.replying.hidden = !comment;
    this.replying.textContent = comment ? this.strings.replying_to.replace("{name}", comment.author.username) : "";
    if (comment) this.form.elements.text.focus();
  }

  #count(delta) {
    this.item.counts.comments = Math.max(0, this.item.counts.comments + delta);
    for (const slide of this.slidesOf(this.item)) showCount(slide, "comments", this.item.counts.comments);
  }

  #failed(error, fallback) {
    this.status.textContent = this.strings.problems[error.message] ?? fallback;
  }

  async #post() {
    const field = this.form.elements.text;
    const body = { text: field.value };
    if (this.parentId) body.parent_id = this.parentId;
    let comment;
    try {
      comment = await this.#send("POST", `/api/v1/videos/${this.item.id}/comments`, body);
    } catch (error) {
      if (error.message === "comments_off" || error.message === "comments_followers_only") {
        this.#showWriting(error.message);
      } else {
        this.#failed(error, this.strings.comment_failed);
      }
      return;
    }
    field.value = "";
    this.status.textContent = "";
    const node = this.#render(comment);
    const thread = comment.thread_id && this.list.querySelector(`[data-comment-id="${comment.thread_id}"] > .comment-thread`);
    if (thread) thread.append(node);
    else this.list.prepend(node);
    const parent = comment.thread_id && this.shown.get(comment.thread_id);
    if (parent) parent.replies += 1;
    this.#replyTo(null);
    this.#count(1);
  }

  /** Delete after asking; a top comment takes its thread with it (so does the count). */
  async #remove(comment, node) {
    const question = !comment.thread_id && comment.replies > 0 ? this.strings.delete_thread_confirm : this.strings.delete_confirm;
    if (!window.confirm(question)) return;
    try {
      await this.#send("DELETE", `/api/v1/comments/${comment.id}`);
    } catch (error) {
      this.#failed(error, this.strings.action_failed);
      return;
    }
    // Keep the keyboard in the sheet: the focused menu goes with the comment.
    const next = node.nextElementSibling ?? node.previousElementSibling;
    node.remove();
    this.shown.delete(comment.id);
    const parent = comment.thread_id && this.shown.get(comment.thread_id);
    if (parent) parent.replies = Math.max(0, parent.replies - 1);
    this.#count(-(comment.thread_id ? 1 : 1 + comment.replies));
    this.status.textContent = this.strings.deleted;
    (next?.querySelector("a, button") ?? this.dialog.querySelector("[data-comments-close]")).focus();
  }

  /** Pin or unpin, then read the first page again: the pinned comment leads it. */
  async #pin(comment, pin) {
    try {
      await this.#send(pin ? "PUT" : "DELETE", `/api/v1/comments/${comment.id}/pin`);
    } catch (error) {
      this.#failed(error, this.strings.action_failed);
      return;
    }
    await this.#reload();
    this.status.textContent = pin ? this.strings.pinned_done : this.strings.unpinned_done;
    this.list.querySelector(`[data-comment-id="${comment.id}"] .comment-menu-button`)?.focus();
  }
}
