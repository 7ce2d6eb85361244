// A small action menu behind a button (the WAI-ARIA menu button pattern), for the comment sheet
// and the profile's "⋯": the button opens a list of actions; arrows, Home and End move between
// them; Escape closes it and gives the focus back to the button, as does choosing an action; a
// click elsewhere or Tab away closes it.

/**
 * @param {HTMLButtonElement} button  carries aria-haspopup="menu" and aria-controls
 * @param {HTMLElement} menu  role="menu", hidden, holding [role=menuitem] buttons
 */
export function attachMenu(button, menu) {
  const items = () => [...menu.querySelectorAll('[role="menuitem"]:not([hidden])')];
  const outside = (event) => {
    if (!menu.contains(event.target) && !button.contains(event.target)) close(false);
  };
  function open(index) {
    menu.hidden = false;
    button.setAttribute("aria-expanded", "true");
    const list = items();
    list[(index + list.length) % list.length]?.focus();
    document.addEventListener("click", outside, true);
  }
  function close(refocus) {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    document.removeEventListener("click", outside, true);
    if (refocus) button.focus();
  }
  button.setAttribute("aria-expanded", "false");
  button.addEventListener("click", () => (menu.hidden ? open(0) : close(true)));
  button.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      open(event.key === "ArrowDown" ? 0 : -1);
    }
  });
  menu.addEventListener("keydown", (event) => {
    const list = items();
    const at = list.indexOf(document.activeElement);
    const moves = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: list.length - 1 };
    if (event.key === "Escape") {
      // Only the menu closes, not the dialog it may sit in.
      event.preventDefault();
      event.stopPropagation();
      close(true);
    } else if (event.key in moves) {
      event.preventDefault();
      list[(moves[event.key] + list.length) % list.length]?.focus();
    } else if (event.key === "Tab") {
      close(false);
    }
  });
  // The action's own handler runs first (it is on the item); then the menu closes.
  menu.addEventListener("click", (event) => {
    if (event.target.closest('[role="menuitem"]')) close(true);
  });
  return { close };
}
