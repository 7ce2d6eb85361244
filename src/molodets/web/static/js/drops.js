// Drag and drop of a video anywhere on the create page.

/**
 * @param {HTMLElement} root  gets the class `is-dragover` while a file hovers and may be dropped
 * @param {() => boolean} canChoose  whether a file may be chosen now
 * @param {(file: File) => void} choose
 */
export function bindDrops(root, canChoose, choose) {
  const hasFiles = (event) => Array.from(event.dataTransfer?.types ?? []).includes("Files");
  let depth = 0;
  const setOver = (over) => root.classList.toggle("is-dragover", over);
  window.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    setOver(canChoose());
  });
  window.addEventListener("dragleave", (event) => {
    if (!hasFiles(event)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) setOver(false);
  });
  window.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    // Without this the browser would open the file in place of the page.
    event.preventDefault();
    event.dataTransfer.dropEffect = canChoose() ? "copy" : "none";
  });
  window.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    setOver(false);
    const [file] = event.dataTransfer.files;
    if (file && canChoose()) choose(file);
  });
}
