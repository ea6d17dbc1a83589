/**
 * A tiny element builder. The panels build their DOM once in `render()` and then
 * only change text and classes, so a helper this small is all they need; it sets
 * text with `textContent`, never HTML, because much of what they show (eval ids,
 * executor urls) arrives from other viewers through the server.
 */
type Child = Node | string | null | undefined | false;

export interface ElementOptions {
  className?: string;
  text?: string;
  attrs?: Record<string, string>;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  options: ElementOptions = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (options.className) element.className = options.className;
  if (options.text !== undefined) element.textContent = options.text;
  for (const [name, value] of Object.entries(options.attrs ?? {})) element.setAttribute(name, value);
  for (const child of children) if (child) element.append(child);
  return element;
}

/** mm:ss for a TTL in ms; a projector reads "9:58" faster than "598123". */
export function formatTtl(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, '0')}`;
}

/** Wall-clock time of an event, hh:mm:ss in the viewer's locale-neutral 24 h form. */
export function formatClock(at: number): string {
  const date = new Date(at);
  return [date.getHours(), date.getMinutes(), date.getSeconds()].map((part) => String(part).padStart(2, '0')).join(':');
}

/**
 * A button that, clicked with a pointer, gives focus back to the deck: otherwise
 * the presenter's next Space would press it again instead of advancing the slide.
 * Keyboard users keep their focus (a keyboard click has `detail === 0`).
 */
export function actionButton(label: string, onClick: () => void, className = 'lp-button'): HTMLButtonElement {
  const button = h('button', { className, text: label, attrs: { type: 'button' } });
  button.addEventListener('click', (event) => {
    if (event.detail > 0) button.blur();
    onClick();
  });
  return button;
}

/**
 * A log in a box of its own height: it shows as many whole lines as fit and none cut off
 * at the box's edge. The older ones are hidden, not half shown, plain lines before warnings: at the bottom of a log
 * written newest first, at the top of one written oldest first (`newest: 'last'`, a
 * terminal). Re-fitted whenever its lines or its size change; returns the way to stop.
 */
export function showWholeLines(
  list: HTMLElement,
  newest: 'first' | 'last' = 'first',
  /** The lines a reader is there for: the plain older ones give way first. */
  outlasts: (line: HTMLElement) => boolean = (line) => line.classList.contains('lp-log-warning'),
): () => void {
  let queued = false;
  const fit = () => {
    queued = false;
    const lines = [...list.children] as HTMLElement[];
    for (const line of lines) line.hidden = false;
    // A box that grows with its lines (an enlarged panel) shows them all.
    const fits = () => list.scrollHeight <= list.clientHeight + 1;
    const oldestFirst = newest === 'first' ? lines.reverse() : lines;
    // A warning ("Double release detected") or a verdict is what a log is there for: plain older lines give way first.
    for (const mayHide of [(line: HTMLElement) => !outlasts(line), () => true]) {
      for (const line of oldestFirst) {
        if (fits()) return;
        if (mayHide(line)) line.hidden = true;
      }
    }
  };
  const refit = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(fit);
  };
  const resizes = new ResizeObserver(refit);
  const changes = new MutationObserver(refit);
  resizes.observe(list);
  changes.observe(list, { childList: true });
  return () => {
    resizes.disconnect();
    changes.disconnect();
  };
}
