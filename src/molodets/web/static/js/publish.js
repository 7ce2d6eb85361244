// The create page's dealings with the videos API beyond the upload: the comment settings sent
// on publishing, the problem code of a failure (shown through the page's translated messages)
// and following processing live.

/** The problem code of a failed API response (problem+json), or one from its status. */
export async function responseCode(response) {
  try {
    const body = await response.json();
    if (typeof body?.code === "string") return body.code;
  } catch {
    // Not JSON: a proxy's page, or a cut connection.
  }
  return statusCode(response.status);
}

/** The video's comment fields for the form's "who can comment" choice (everyone, followers, off). */
export function commentChoice(value) {
  return { comments_enabled: value !== "off", comment_audience: value === "followers" ? "followers" : "everyone" };
}

/** @param {{code: string|null, status: number}} error  a TusError */
export function uploadErrorCode(error) {
  return error.code ?? (error.status === 0 ? "upload_interrupted" : statusCode(error.status));
}

function statusCode(status) {
  if (status === 401) return "unauthenticated";
  if (status === 403) return "forbidden";
  if (status === 413) return "payload_too_large";
  if (status === 503) return "unavailable";
  if (status >= 500) return "internal_error";
  return "http_error";
}

/**
 * Follow a video's processing as server-sent events, falling back to polling the video when the
 * stream is refused; `onState` gets each state until it returns true (finished).
 * @param {string} url  the video's API URL
 * @param {(state: object) => boolean} onState
 */
export function followProcessing(url, onState, pollMs = 2000) {
  let finished = false;
  const take = (state) => {
    if (!finished) finished = onState(state);
    return finished;
  };
  const poll = async () => {
    while (!finished) {
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (response.ok) take(await response.json());
      } catch {
        // Offline for a moment: ask again on the next turn.
      }
    }
  };
  const source = new EventSource(`${url}/progress`);
  source.onmessage = (event) => {
    if (take(JSON.parse(event.data))) source.close();
  };
  source.onerror = () => {
    if (finished) {
      source.close();
    } else if (source.readyState === EventSource.CLOSED) {
      // An error status ends an EventSource for good; a dropped stream reconnects by itself.
      poll();
    }
  };
}
