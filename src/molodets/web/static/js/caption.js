// The caption box: counts characters and hashtags, and highlights #hashtags and @mentions as
// they are typed. The highlighting is drawn by a mirror <div> behind a textarea whose own text
// is transparent: the creator still edits a plain textarea (undo, spell check, IME, screen
// readers all as usual) and sees the marks through it.

// The server's rules (videos/service.py `parse_caption`), in JS: Python's Unicode `\w` is
// letters, digits (any script) and "_".
const WORD = String.raw`\p{L}\p{N}_`;
export const HASHTAG = new RegExp(String.raw`(?<![${WORD}#])#([${WORD}]{1,100})`, "gu");
const MENTION = new RegExp(String.raw`(?<![${WORD}@])@([a-z0-9._]{2,24})(?![${WORD}])`, "giu");

/** The caption's distinct hashtags, case-folded as the server stores them. */
export function hashtagsOf(text) {
  const caption = text.normalize("NFC");
  return [...new Set(Array.from(caption.matchAll(HASHTAG), (match) => match[1].toLowerCase()))];
}

/**
 * The caption cut into plain text and marks, in order.
 * @returns {Array<{text: string, kind: "tag"|"mention"|null}>}
 */
export function captionParts(text) {
  const marks = [];
  for (const match of text.matchAll(HASHTAG)) marks.push({ start: match.index, end: match.index + match[0].length, kind: "tag" });
  for (const match of text.matchAll(MENTION)) {
    // The server drops a trailing dot ("@anna." ends a sentence), so the mark does too.
    const name = match[1].replace(/\.+$/, "");
    if (name.length < 2) continue;
    marks.push({ start: match.index, end: match.index + 1 + name.length, kind: "mention" });
  }
  marks.sort((a, b) => a.start - b.start);
  const parts = [];
  let at = 0;
  for (const mark of marks) {
    if (mark.start < at) continue; // never overlaps in practice; be safe
    if (mark.start > at) parts.push({ text: text.slice(at, mark.start), kind: null });
    parts.push({ text: text.slice(mark.start, mark.end), kind: mark.kind });
    at = mark.end;
  }
  if (at < text.length) parts.push({ text: text.slice(at), kind: null });
  return parts;
}

export class CaptionField {
  /**
   * @param {{caption: HTMLTextAreaElement, mirror: HTMLElement, chars: HTMLElement, tags: HTMLElement}} el
   * @param {{locale: string, forms: Record<string, string>, max: number}} options
   */
  constructor(el, { locale, forms, max }) {
    this.el = el;
    this.forms = forms;
    this.max = max;
    this.numberFormat = new Intl.NumberFormat(locale);
    this.plural = new Intl.PluralRules(locale);
    el.caption.addEventListener("input", () => this.update());
    el.caption.addEventListener("scroll", () => this.#syncScroll());
    // The textarea can be resized; the mirror must wrap lines at the same width.
    new ResizeObserver(() => this.#syncScroll()).observe(el.caption);
    el.caption.closest(".caption-box")?.classList.add("is-highlighting");
    this.update();
  }

  get value() {
    return this.el.caption.value;
  }

  hashtags() {
    return hashtagsOf(this.el.caption.value);
  }

  /** Whether there are more hashtags than the server takes. */
  get over() {
    return this.hashtags().length > this.max;
  }

  focus() {
    this.el.caption.focus();
  }

  update() {
    const { el } = this;
    const text = el.caption.value;
    const chars = this.numberFormat.format(text.length);
    el.chars.textContent = `${chars} / ${this.numberFormat.format(el.caption.maxLength)}`;
    const count = this.hashtags().length;
    const form = this.forms[this.plural.select(count)] ?? this.forms.other ?? Object.values(this.forms).at(-1);
    el.tags.textContent = form.replace("%(num)s", this.numberFormat.format(count));
    el.tags.classList.toggle("is-over", count > this.max);
    this.#render(text);
  }

  #render(text) {
    const nodes = captionParts(text).map(({ text: part, kind }) => {
      if (kind === null) return document.createTextNode(part);
      const mark = document.createElement("mark");
      mark.className = kind === "tag" ? "is-tag" : "is-mention";
      mark.textContent = part;
      return mark;
    });
    // A final newline needs something after it, or the mirror is a line shorter than the text.
    nodes.push(document.createTextNode("\u200b"));
    this.el.mirror.replaceChildren(...nodes);
    this.#syncScroll();
  }

  #syncScroll() {
    this.el.mirror.scrollTop = this.el.caption.scrollTop;
  }
}
