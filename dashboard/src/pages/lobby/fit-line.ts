/**
 * Shrinks one line of text until it fits its box, down to half its own size, instead of cutting it:
 * room names and "Belegt bis Di. 09:00" differ in length, and the kiosk's font is whatever the
 * screen has. Watches the tile around it, whose size the grid sets, so the line's own resizing never
 * feeds back into it.
 */
export function fitLine(node: HTMLElement, text: string) {
  let last = text;
  // scrollWidth is rounded to whole pixels: a line 0.3 px too long passes it and still gets its ellipsis.
  const range = document.createRange();
  const tooLong = () => {
    range.selectNodeContents(node);
    return range.getBoundingClientRect().width > node.clientWidth;
  };
  const fit = () => {
    node.style.fontSize = '';
    const full = Number.parseFloat(getComputedStyle(node).fontSize);
    const min = full * 0.5;
    let size = full;
    while (tooLong() && size > min) {
      size = Math.max(min, size * 0.94);
      node.style.fontSize = `${size}px`;
    }
  };
  const observer = new ResizeObserver(() => fit());
  observer.observe(node.parentElement ?? node);
  fit();
  return {
    update(next: string) {
      if (next === last) return;
      last = next;
      // After Svelte has put the new text in.
      queueMicrotask(fit);
    },
    destroy() {
      observer.disconnect();
    },
  };
}
