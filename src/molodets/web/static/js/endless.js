// Endless lists (the profile grid, the follower lists): when the "More" link comes near the
// screen, the next page is read from the API and its items are added; the link then points at
// the page after it. Without the script (or if a page fails) the link itself opens the next
// page, rendered by the server.

/**
 * Keep `container` filling from `api` (keyset pages of `limit`) as `more` nears the screen.
 * `render(item)` builds one element; `onError()` is told when a page fails.
 */
export function endlessList({ container, more, api, limit, render, onError }) {
  if (!container || !more || !("IntersectionObserver" in window)) return;
  let loading = false;

  async function loadMore(observer) {
    if (loading) return;
    const cursor = new URL(more.href).searchParams.get("cursor");
    if (!cursor) return;
    loading = true;
    try {
      const query = new URLSearchParams({ cursor, limit: String(limit) });
      const response = await fetch(`${api}?${query}`, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const page = await response.json();
      container.append(...page.items.map(render));
      if (page.next_cursor) {
        const next = new URL(more.href);
        next.searchParams.set("cursor", page.next_cursor);
        more.href = next.pathname + next.search;
        // Observe afresh: if the link is still near the screen, that fires again for the next page.
        observer.unobserve(more);
        observer.observe(more);
      } else {
        observer.disconnect();
        more.closest(".grid-more")?.remove();
      }
    } catch {
      // Leave the link for the reader: it loads the same page without the script.
      observer.disconnect();
      onError?.();
    } finally {
      loading = false;
    }
  }

  const observer = new IntersectionObserver(
    (entries) => {
      if (entries.some((entry) => entry.isIntersecting)) loadMore(observer);
    },
    { rootMargin: "600px 0px" },
  );
  observer.observe(more);
}
