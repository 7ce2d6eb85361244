// Swipes: touch drags (the slides follow the finger), wheel and trackpad flicks, arrow keys and
// j/k. Each gesture moves by exactly one video.

// A drag past this share of the height, or a quick flick, moves on.
const DRAG_SHARE = 0.18;
const FLICK_PX_PER_MS = 0.5;
// Wheel: how far the deltas must add up to count as a flick, and how long the tail of a trackpad's
// inertia (dozens of events after the fingers left) is ignored. The lock lasts until the wheel has
// been quiet for WHEEL_QUIET_MS, so one flick is one video however long its inertia runs.
const WHEEL_THRESHOLD = 40;
const WHEEL_LOCK_MS = 450;
const WHEEL_QUIET_MS = 180;

function isTyping(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}

/**
 * @param {HTMLElement} viewport the element the slides move in
 * @param {{go: (delta: number) => void, toggle: () => void, drag: (px: number|null) => void,
 *          toggleSound: () => void}} actions
 */
export function attachGestures(viewport, actions) {
  // --- touch ---------------------------------------------------------------------------------
  let start = null;
  let dragged = false;
  viewport.addEventListener("pointerdown", (event) => {
    if (event.pointerType === "mouse" || event.target.closest("[data-progress]")) return;
    start = { y: event.clientY, x: event.clientX, time: performance.now(), id: event.pointerId };
    dragged = false;
  });
  viewport.addEventListener("pointermove", (event) => {
    if (!start || event.pointerId !== start.id) return;
    const dy = event.clientY - start.y;
    if (!dragged && Math.abs(dy) > 10 && Math.abs(dy) > Math.abs(event.clientX - start.x)) {
      dragged = true;
      viewport.setPointerCapture(event.pointerId);
    }
    if (dragged) actions.drag(dy);
  });
  const end = (event) => {
    if (!start || event.pointerId !== start.id) return;
    const dy = event.clientY - start.y;
    const speed = Math.abs(dy) / Math.max(1, performance.now() - start.time);
    start = null;
    actions.drag(null);
    if (!dragged) return;
    if (Math.abs(dy) > viewport.clientHeight * DRAG_SHARE || speed > FLICK_PX_PER_MS) actions.go(dy < 0 ? 1 : -1);
  };
  viewport.addEventListener("pointerup", end);
  viewport.addEventListener("pointercancel", end);
  // The click that ends a drag is not a tap.
  viewport.addEventListener(
    "click",
    (event) => {
      if (dragged) {
        event.stopPropagation();
        event.preventDefault();
        dragged = false;
      }
    },
    true,
  );

  // --- wheel and trackpad ---------------------------------------------------------------------
  let sum = 0;
  let lockedUntil = 0;
  let lastWheel = 0;
  viewport.addEventListener(
    "wheel",
    (event) => {
      if (event.ctrlKey) return; // pinch zoom
      event.preventDefault();
      const now = performance.now();
      if (now - lastWheel > WHEEL_QUIET_MS) sum = 0;
      lastWheel = now;
      if (now < lockedUntil) {
        lockedUntil = Math.max(lockedUntil, now + WHEEL_QUIET_MS);
        return;
      }
      sum += event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
      if (Math.abs(sum) >= WHEEL_THRESHOLD) {
        actions.go(sum > 0 ? 1 : -1);
        sum = 0;
        lockedUntil = now + WHEEL_LOCK_MS;
      }
    },
    { passive: false },
  );

  // --- keyboard -------------------------------------------------------------------------------
  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || isTyping(event.target)) return;
    if (document.querySelector("dialog[open]")) return; // the comment sheet has the keyboard
    const key = event.key;
    if (key === "ArrowDown" || key === "j" || key === "J" || key === "PageDown") {
      event.preventDefault();
      actions.go(1);
    } else if (key === "ArrowUp" || key === "k" || key === "K" || key === "PageUp") {
      event.preventDefault();
      actions.go(-1);
    } else if (key === " " || key === "Spacebar") {
      // A focused button or link handles Space itself (the play/pause button does the same).
      if (event.target instanceof HTMLElement && event.target.closest("button, a, [role=slider]")) return;
      event.preventDefault();
      actions.toggle();
    } else if (key === "m" || key === "M") {
      actions.toggleSound();
    }
  });
}
