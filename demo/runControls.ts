/**
 * Controls shared by the run panels: the fault picker and the rules for when a
 * run button may be pressed.
 */
import type { AnyFaultName as FaultName } from '../server/protocol.ts';
import { h } from './dom.ts';
import { FAULT_LABELS } from './runs.ts';

/**
 * A `<select>` of faults, in the talk's words. Reveal's keyboard handler ignores
 * inputs and textareas but not selects: keys pressed on it stop here, so picking
 * with the arrows does not also change the slide. After a pick with the mouse or a
 * finger, focus goes back to the deck (the presenter's next → must move the slide).
 */
export function faultSelect(faults: readonly FaultName[], initial: FaultName, label: string): HTMLSelectElement {
  const select = h(
    'select',
    { className: 'lp-select', attrs: { 'aria-label': label, 'data-role': 'fault', title: label } },
    ...faults.map((fault) => h('option', { text: FAULT_LABELS[fault], attrs: { value: fault } })),
  );
  select.value = initial;
  let pointer = false;
  select.addEventListener('pointerdown', () => (pointer = true));
  select.addEventListener('keydown', (event) => {
    pointer = false;
    event.stopPropagation();
  });
  select.addEventListener('change', () => {
    select.dataset.touched = 'true';
    if (pointer) select.blur();
    pointer = false;
  });
  return select;
}

/**
 * Shows the fault of the run on screen, so a viewer who did not pick one sees what
 * the presenter ran (and a click runs it again); once the viewer picks, theirs stays.
 */
export function followFault(select: HTMLSelectElement, fault: FaultName | null | undefined): void {
  if (!fault || select.dataset.touched === 'true') return;
  if ([...select.options].some((option) => option.value === fault)) select.value = fault;
}

export function selectedFault(select: HTMLSelectElement, fallback: FaultName): FaultName {
  const value = select.value as FaultName;
  return Object.hasOwn(FAULT_LABELS, value) ? value : fallback;
}

export interface ErrorLine {
  element: HTMLElement;
  /** Shows the words of a failed click ('' hides them). */
  show(text: string): void;
  /** Shows why the runs cannot be followed, or clears it when `text` is '' (a click's error stays). */
  showFeedError(text: string): void;
}

/** A line for errors, hidden while empty. */
export function errorLine(): ErrorLine {
  const element = h('div', { className: 'lp-error', attrs: { role: 'alert', 'data-role': 'error' } });
  element.hidden = true;
  let fromFeed = false;
  const show = (text: string) => {
    fromFeed = false;
    element.textContent = text;
    element.hidden = text === '';
  };
  return {
    element,
    show,
    showFeedError(text: string) {
      if (text) {
        show(text);
        fromFeed = true;
      } else if (fromFeed) {
        show('');
      }
    },
  };
}
