// A text box that grows with its text (notes, problems, the child's view), so nothing
// typed is cut off or hidden behind a scroll bar inside a box.

/** Svelte action: `<textarea use:autogrow={value}>` (the value, so a change made by
 *  the form and not typed is measured too). */
export function autogrow(el: HTMLTextAreaElement, _value?: unknown) {
  const fit = () => {
    el.style.height = 'auto';
    el.style.height = `${el.scrollHeight + 2}px`;
  };
  fit();
  el.addEventListener('input', fit);
  // A value set by the form (a draft restored) is measured once it is in the box.
  const id = requestAnimationFrame(fit);
  return {
    update: () => fit(),
    destroy() {
      el.removeEventListener('input', fit);
      cancelAnimationFrame(id);
    },
  };
}
