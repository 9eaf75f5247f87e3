/**
 * Shrinks one line of text until it fits its box, down to `min` of its own size, instead of cutting it:
 * room names and "Belegt bis Di., 24. Nov., 09:00" differ in length, and the kiosk's font is whatever the
 * screen has. Watches the tile around it, whose size the grid sets, so the line's own resizing never
 * feeds back into it.
 */
export function fitLine(node: HTMLElement, text: string) {
  let last = text;
  const fit = () => {
    node.style.fontSize = '';
    const full = Number.parseFloat(getComputedStyle(node).fontSize);
    const min = full * 0.6;
    let size = full;
    while (node.scrollWidth > node.clientWidth + 0.5 && size > min) {
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
