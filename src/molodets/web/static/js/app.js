// Progressive enhancement only: every form here works without this file.

const root = document.documentElement;
root.classList.remove("no-js");
root.classList.add("js");

// Show the chosen picture in place of the current avatar before it is uploaded.
function enhanceAvatarPreview() {
  for (const input of document.querySelectorAll("input[type=file][data-preview-target]")) {
    const target = document.querySelector(input.dataset.previewTarget);
    if (!target) continue;
    let objectUrl = null;
    input.addEventListener("change", () => {
      const [file] = input.files;
      if (objectUrl) URL.revokeObjectURL(objectUrl);
      objectUrl = null;
      // Refuse an oversized file here: the server would cut the upload off with a bare 413.
      const tooLarge = file && Number(input.dataset.maxBytes) > 0 && file.size > Number(input.dataset.maxBytes);
      input.setCustomValidity(tooLarge ? input.dataset.tooLarge : "");
      if (tooLarge) {
        input.reportValidity();
        return;
      }
      if (!file || !file.type.startsWith("image/")) return;
      objectUrl = URL.createObjectURL(file);
      const img = document.createElement("img");
      img.className = "avatar";
      img.alt = "";
      img.width = 96;
      img.height = 96;
      img.src = objectUrl;
      target.replaceChildren(img);
    });
  }
}

// Ask before forms that cannot be undone (log out everywhere).
function enhanceConfirmations() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

// A copy button beside a secret shown once; hidden unless the Clipboard API is there.
function enhanceCopyButtons() {
  if (!navigator.clipboard) return;
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const source = document.querySelector(button.dataset.copy);
    if (!source) continue;
    button.hidden = false;
    const label = button.textContent;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        button.textContent = "✓";
      } catch {
        button.textContent = label;
      }
      setTimeout(() => { button.textContent = label; }, 1500);
    });
  }
}

// A live "12 / 300" counter under text areas that have a limit.
function enhanceCounters() {
  for (const area of document.querySelectorAll("textarea[data-counter][maxlength]")) {
    const counter = document.getElementById(area.dataset.counter);
    if (!counter) continue;
    const update = () => { counter.textContent = `${area.value.length} / ${area.maxLength}`; };
    area.addEventListener("input", update);
    update();
  }
}

// "Try again" on the offline page reloads the address it stands in for (the worker serves it
// in place of any page), not the home page its plain link leads to.
function enhanceReloadLinks() {
  for (const link of document.querySelectorAll("[data-reload]")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      window.location.reload();
    });
  }
}

// The service worker (served from /sw.js for the whole site) keeps the app shell for offline use.
// It is told the page's language so its offline page speaks the one the reader chose.
async function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    const ready = await navigator.serviceWorker.ready;
    ready.active?.postMessage({ type: "lang", lang: root.lang });
  } catch (error) {
    // Private windows and some embedded browsers refuse workers; the site works without one.
    console.info("service worker not registered:", error?.message);
  }
}

enhanceAvatarPreview();
enhanceConfirmations();
enhanceCopyButtons();
enhanceCounters();
enhanceReloadLinks();
registerServiceWorker();
