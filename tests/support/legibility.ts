/**
 * What the back row of a room can read on one slide of the deck, measured in the page:
 * text size as rendered (computed size times every scale above it), text a box cuts
 * off (a box whose content is taller or wider than the box and does not show it), and
 * live panels that run past their slide.
 */
import type { Page } from 'playwright-core';

export interface LegibilityReport {
  title: string;
  /** Slide text (outside live panels) under `minSlideText` px, as rendered. */
  smallSlideText: string[];
  /** Panel text under `minPanelText` px, as rendered. */
  smallPanelText: string[];
  /** Boxes in a live panel whose content does not fit (scrollHeight > clientHeight, or wider). */
  clipped: string[];
  /** Live panels reaching past their slide's box. */
  pastSlide: string[];
}

export async function measureLegibility(page: Page, index: number, limits = { minSlideText: 18, minPanelText: 12 }): Promise<LegibilityReport> {
  // The test runner compiles this file keeping function names (esbuild's __name helper): the page needs it too.
  await page.evaluate('window.__name ??= (fn) => fn');
  return page.evaluate(
    ({ index, limits }) => {
      const slide = window.Reveal!.getSlides()[index] as HTMLElement;
      const name = (element: Element) =>
        `${element.tagName.toLowerCase()}${typeof element.className === 'string' && element.className ? '.' + element.className.trim().split(/\s+/).join('.') : ''} "${(element.textContent ?? '').trim().slice(0, 40)}"`;
      const shown = (element: Element) => {
        const box = element.getBoundingClientRect();
        if (box.width === 0 || box.height === 0) return false;
        const style = getComputedStyle(element);
        return style.visibility !== 'hidden' && Number(style.opacity) > 0;
      };
      const scaleOf = (element: HTMLElement) => {
        let scale = 1;
        for (let node: HTMLElement | null = element; node; node = node.parentElement) {
          const style = getComputedStyle(node);
          if (style.transform !== 'none') {
            const matrix = new DOMMatrix(style.transform);
            scale *= Math.hypot(matrix.a, matrix.b);
          }
          const zoom = parseFloat(style.zoom);
          if (zoom > 0) scale *= zoom;
        }
        return scale;
      };
      const smallSlideText: string[] = [];
      const smallPanelText: string[] = [];
      const clipped: string[] = [];
      for (const element of slide.querySelectorAll<HTMLElement>('*')) {
        if (element.closest('aside.notes, .reader-notes') || !shown(element)) continue;
        const ownText = [...element.childNodes].some((node) => node.nodeType === Node.TEXT_NODE && (node.textContent ?? '').trim() !== '');
        const inPanel = element.closest('.live-panel, .join-panel') !== null;
        if (ownText && !element.classList.contains('emoji')) {
          const size = parseFloat(getComputedStyle(element).fontSize) * scaleOf(element);
          const minimum = inPanel ? limits.minPanelText : limits.minSlideText;
          if (size < minimum - 0.05) (inPanel ? smallPanelText : smallSlideText).push(`${name(element)} ${size.toFixed(1)}px`);
        }
        if (inPanel) {
          const style = getComputedStyle(element);
          const hidesY = ['auto', 'scroll', 'hidden', 'clip'].includes(style.overflowY);
          const hidesX = ['auto', 'scroll', 'hidden', 'clip'].includes(style.overflowX);
          if ((hidesY && element.scrollHeight > element.clientHeight + 1) || (hidesX && element.scrollWidth > element.clientWidth + 1)) {
            clipped.push(`${name(element)} ${element.scrollWidth}x${element.scrollHeight} in ${element.clientWidth}x${element.clientHeight}`);
          }
        }
      }
      const slideBox = slide.getBoundingClientRect();
      const pastSlide = [...slide.querySelectorAll<HTMLElement>('.live-panel')]
        .filter(shown)
        .filter((panel) => {
          const box = panel.getBoundingClientRect();
          return box.bottom > Math.min(slideBox.bottom, window.innerHeight) + 1 || box.right > Math.min(slideBox.right, window.innerWidth) + 1 || box.top < slideBox.top - 1;
        })
        .map(name);
      return { title: slide.querySelector('h1, h2')?.textContent?.trim() ?? '', smallSlideText, smallPanelText, clipped, pastSlide };
    },
    { index, limits },
  );
}
