// The list behind the player: the first page came with the HTML, the rest from the feed API
// (`{items, next_cursor}`), fetched before the viewer reaches the end.

export class FeedSource {
  constructor({ items, api, cursor, wrap }, { beforeLoad = () => Promise.resolve() } = {}) {
    this.items = items;
    // Runs before each page is asked for: the player sends its pending watch events, so the
    // next page already reflects what the viewer just watched.
    this.beforeLoad = beforeLoad;
    this.api = api;
    this.cursor = cursor;
    // For You never dead-ends: when nothing is left, it starts again from the top.
    this.wrap = wrap;
    this.ended = !cursor && !wrap;
    this.loading = null;
    this.pageSize = 10;
  }

  /** Fetch the next page unless one is on its way or the list has ended; resolves to the number
   *  of items added. */
  more() {
    if (this.ended) return Promise.resolve(0);
    if (this.loading) return this.loading;
    const url = new URL(this.api, location.origin);
    url.searchParams.set("limit", String(this.pageSize));
    if (this.cursor) url.searchParams.set("cursor", this.cursor);
    this.loading = this.beforeLoad()
      .catch(() => {})
      .then(() => fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" }))
      .then((response) => {
        if (!response.ok) throw new Error(`feed ${response.status}`);
        return response.json();
      })
      .then((page) => {
        const fresh = page.items.filter((item) => item.status === "ready" && item.renditions.length);
        this.items.push(...fresh);
        this.cursor = page.next_cursor;
        if (!this.cursor && !this.wrap) this.ended = true;
        return fresh.length;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }
}
