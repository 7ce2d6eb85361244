// The player's comment sheet: a native modal <dialog> (focus is held inside it, Escape closes
// it) over the playing video. Top comments first (the pinned one leads), threads opened on
// demand, and a form that comments or replies through the API. Text is always set as text,
// never as HTML.

import { showCount } from "./slides.js";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export class CommentSheet {
  /**
   * @param {HTMLDialogElement} dialog
   * @param {{strings: Record<string, any>, slidesOf: (item: object) => HTMLElement[]}} options
   */
  constructor(dialog, { strings, slidesOf }) {
    this.dialog = dialog;
    this.strings = strings;
    this.slidesOf = slidesOf;
    const $ = (name) => dialog.querySelector(`[data-comments-${name}]`);
    this.list = $("list");
    this.status = $("status");
    this.more = $("more");
    this.form = $("form");
    this.replying = $("replying");
    this.item = null;
    this.cursor = null;
    this.parentId = null;
    this.number = new Intl.NumberFormat(document.documentElement.lang || undefined);
    $("close").addEventListener("click", () => dialog.close());
    // A click on the backdrop (outside the sheet's box) closes it, as on phones.
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) dialog.close();
    });
    this.more.addEventListener("click", () => this.#load());
    this.form?.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#post();
    });
  }

  open(item) {
    this.item = item;
    this.cursor = null;
    this.#replyTo(null);
    this.list.replaceChildren();
    this.status.textContent = "";
    const off = !item.comments_enabled;
    if (this.form) this.form.hidden = off;
    this.dialog.showModal();
    if (off) this.status.textContent = this.strings.comments_off;
    this.#load();
  }

  async #load() {
    const query = new URLSearchParams({ sort: "top", limit: "20" });
    if (this.cursor) query.set("cursor", this.cursor);
    this.more.hidden = true;
    const body = await this.#fetch(`/api/v1/videos/${this.item.id}/comments?${query}`);
    if (!body) return;
    for (const comment of body.items) this.list.append(this.#render(comment));
    this.cursor = body.next_cursor;
    this.more.hidden = !this.cursor;
    if (!this.list.children.length && this.item.comments_enabled) this.status.textContent = this.strings.no_comments;
  }

  async #fetch(url) {
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (response.ok) return await response.json();
    } catch {
      // shown below
    }
    this.status.textContent = this.strings.comments_failed;
    return null;
  }

  #render(comment) {
    const li = document.createElement("li");
    li.className = "comment";
    li.dataset.commentId = comment.id;
    const head = document.createElement("p");
    head.className = "comment-head";
    const author = document.createElement("a");
    author.href = `/@${encodeURIComponent(comment.author.username)}`;
    author.textContent = comment.author.display_name;
    head.append(author);
    for (const [flag, label] of [[comment.by_video_author, this.strings.by_author], [comment.pinned, this.strings.pinned]]) {
      if (!flag) continue;
      const badge = document.createElement("span");
      badge.className = "comment-badge";
      badge.textContent = label;
      head.append(" ", badge);
    }
    const text = document.createElement("p");
    text.className = "comment-text";
    text.textContent = comment.text;
    const actions = document.createElement("p");
    actions.className = "comment-actions";
    if (this.form) {
      const reply = document.createElement("button");
      reply.type = "button";
      reply.textContent = this.strings.reply;
      reply.addEventListener("click", () => this.#replyTo(comment));
      actions.append(reply);
    }
    li.append(head, text, actions);
    if (!comment.thread_id) {
      const thread = document.createElement("ol");
      thread.className = "comment-thread";
      li.append(thread);
      if (comment.replies > 0) {
        const open = document.createElement("button");
        open.type = "button";
        open.textContent = this.strings.view_replies.replace("{count}", this.number.format(comment.replies));
        open.addEventListener("click", async () => {
          open.remove();
          const body = await this.#fetch(`/api/v1/comments/${comment.id}/replies?limit=100`);
          for (const reply of body?.items ?? []) thread.append(this.#render(reply));
        });
        actions.append(open);
      }
    }
    return li;
  }

  #replyTo(comment) {
    this.parentId = comment ? comment.id : null;
    if (!this.replying) return;
    this.replying.hidden = !comment;
    this.replying.textContent = comment ? this.strings.replying_to.replace("{name}", comment.author.username) : "";
    if (comment) this.form.elements.text.focus();
  }

  async #post() {
    const field = this.form.elements.text;
    const body = { text: field.value };
    if (this.parentId) body.parent_id = this.parentId;
    let response;
    try {
      response = await fetch(`/api/v1/videos/${this.item.id}/comments`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf(), Accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch {
      this.status.textContent = this.strings.comment_failed;
      return;
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      this.status.textContent = this.strings.problems[problem.code] ?? this.strings.comment_failed;
      return;
    }
    const comment = await response.json();
    field.value = "";
    this.status.textContent = "";
    const node = this.#render(comment);
    const thread = comment.thread_id && this.list.querySelector(`[data-comment-id="${comment.thread_id}"] > .comment-thread`);
    if (thread) thread.append(node);
    else this.list.prepend(node);
    this.#replyTo(null);
    this.item.counts.comments += 1;
    for (const slide of this.slidesOf(this.item)) showCount(slide, "comments", this.item.counts.comments);
  }
}
