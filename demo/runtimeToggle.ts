/**
 * BullMQ or real Celery: a two-button switch beside a run panel's fault menu.
 * Switching fills the menu with that runtime's faults (their own mechanisms).
 * Like the fault menu, it shows the runtime of the run on screen until the
 * viewer picks one, or until the hall says which one the presenter picked: the
 * hall's panel gate (demo/hall/panelGates.ts) sends `SHOW_RUNTIME_EVENT` to the
 * switch, which counts as picked, as the gate does with the fault menu.
 */
import type { AnyFaultName, RuntimeName } from '../server/protocol.ts';
import { actionButton, h } from './dom.ts';
import { FAULT_LABELS } from './runs.ts';
import './runtimeToggle.css';

export interface RuntimeToggle {
  element: HTMLElement;
  runtime(): RuntimeName;
  /** The default fault of the runtime picked. */
  defaultFault(): AnyFaultName;
  /** Shows the runtime of the run on screen, unless the viewer picked one. */
  follow(runtime: RuntimeName | undefined): void;
}

const LABELS: Record<RuntimeName, string> = { bullmq: 'BullMQ', celery: 'Celery' };

/** A CustomEvent<RuntimeName> sent to the switch's element: show this runtime, as if picked. */
export const SHOW_RUNTIME_EVENT = 'lp:show-runtime';

export function runtimeToggle(
  select: HTMLSelectElement,
  faults: Record<RuntimeName, readonly AnyFaultName[]>,
  onChange: (runtime: RuntimeName) => void = () => {},
): RuntimeToggle {
  let current: RuntimeName = 'bullmq';
  let touched = false;
  const buttons = (Object.keys(LABELS) as RuntimeName[]).map((runtime) => {
    const button = actionButton(LABELS[runtime], () => {
      touched = true;
      pick(runtime);
    }, 'lp-button lp-button-small lp-runtime');
    button.dataset.runtime = runtime;
    button.title = runtime === 'celery' ? 'Run on real celery worker processes (prefork), Celery’s own faults' : 'Run on BullMQ worker processes';
    return button;
  });
  const element = h('div', { className: 'lp-runtime-toggle', attrs: { role: 'group', 'aria-label': 'Task framework', 'data-role': 'runtime' } }, ...buttons);

  const pick = (runtime: RuntimeName) => {
    const changed = runtime !== current;
    current = runtime;
    element.dataset.runtime = runtime;
    for (const button of buttons) button.setAttribute('aria-pressed', String(button.dataset.runtime === runtime));
    if (!changed) return;
    select.replaceChildren(...faults[runtime].map((fault) => h('option', { text: FAULT_LABELS[fault], attrs: { value: fault } })));
    select.value = faults[runtime][0]!;
    delete select.dataset.touched;
    onChange(runtime);
  };
  element.dataset.runtime = current;
  for (const button of buttons) button.setAttribute('aria-pressed', String(button.dataset.runtime === current));
  element.addEventListener(SHOW_RUNTIME_EVENT, (event) => {
    const runtime = (event as CustomEvent<unknown>).detail;
    if (runtime !== 'bullmq' && runtime !== 'celery') return;
    touched = true;
    pick(runtime);
  });

  return {
    element,
    runtime: () => current,
    defaultFault: () => faults[current][0]!,
    follow(runtime) {
      if (!touched) pick(runtime ?? 'bullmq');
    },
  };
}
