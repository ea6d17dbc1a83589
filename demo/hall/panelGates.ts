/**
 * Each live panel the audience can fire gets a strip under its header: whether
 * the presenter opened it to the hall and how many people are firing it, and
 * for the presenter the open/close toggle. While a panel is closed, a follower's
 * copy of it is inert (still live, not tappable); its fault menu and its
 * BullMQ/Celery switch always show the presenter's picks, which are the ones a
 * follower's run plays (the server says so too). While no talk is live (no
 * presenter lately), every panel is the reader's: open, with their own fault and
 * framework; a tap on a closed one answers at once that the presenter opens it. The
 * presenter's window is what the room sees: no strip there (the console has the
 * toggles). Generic over panels: it finds a panel's frame in its placeholder, also
 * when the panel is rendered later (panels load when their slide is near).
 */
import type { AnyFaultName, AudiencePanel, RuntimeName, RuntimePanel } from '../../server/protocol.ts';
import { h } from '../dom.ts';
import { SHOW_RUNTIME_EVENT } from '../runtimeToggle.ts';
import type { HallLink } from './hallLink.ts';

/**
 * The panels the presenter can open, as the server's schema lists them (a type-only
 * import keeps zod out of the page; the check below fails the build if they differ).
 */
const AUDIENCE_PANELS = ['lua-release', 'innocent-pattern', 'journey', 'defense', 'edge-case-test', 'late-duplicate'] as const satisfies readonly AudiencePanel[];
type Missing = Exclude<AudiencePanel, (typeof AUDIENCE_PANELS)[number]>;
const allListed: Missing extends never ? true : false = true;
void allListed;

function audiencePanel(name: string | undefined): AudiencePanel | null {
  return (AUDIENCE_PANELS as readonly string[]).includes(name ?? '') ? (name as AudiencePanel) : null;
}

/** The panels with a BullMQ/Celery switch, as the server's schema lists them (checked as above). */
const RUNTIME_PANELS = ['innocent-pattern', 'journey'] as const satisfies readonly RuntimePanel[];
type MissingRuntimePanel = Exclude<RuntimePanel, (typeof RUNTIME_PANELS)[number]>;
const allRuntimePanelsListed: MissingRuntimePanel extends never ? true : false = true;
void allRuntimePanelsListed;

function runtimePanel(panel: AudiencePanel): RuntimePanel | null {
  return (RUNTIME_PANELS as readonly string[]).includes(panel) ? (panel as RuntimePanel) : null;
}

/** How long the answer to a tap on a closed demo stays up. */
const ANSWER_MS = 4000;

interface Gate {
  panel: AudiencePanel;
  placeholder: HTMLElement;
  /** The panel's frame, once rendered (it may move into an overlay when enlarged). */
  frame: HTMLElement | null;
  strip: HTMLElement;
  status: HTMLElement;
  toggle: HTMLButtonElement;
  error: HTMLElement;
}

export class PanelGates {
  private readonly gates: Gate[] = [];
  private readonly answer = h('div', { className: 'hall-closed-answer', attrs: { role: 'status', 'data-role': 'closed-answer' } });
  private answerTimer: ReturnType<typeof setTimeout> | null = null;
  /** A tap on a closed demo (its body is inert: the tap lands on the frame around it). */
  private readonly onClosedTap = (event: MouseEvent) => {
    const gate = this.gates.find((candidate) => candidate.frame?.contains(event.target as Node));
    const body = gate?.frame?.querySelector<HTMLElement>('.lp-body');
    if (!gate || !body?.inert) return;
    const box = body.getBoundingClientRect();
    if (event.clientY < box.top || event.clientY > box.bottom || event.clientX < box.left || event.clientX > box.right) return;
    this.answer.textContent = 'Closed for now: the presenter opens this demo to the hall when its slide comes.';
    this.answer.hidden = false;
    if (this.answerTimer) clearTimeout(this.answerTimer);
    this.answerTimer = setTimeout(() => (this.answer.hidden = true), ANSWER_MS);
  };
  private readonly observer = new MutationObserver(() => this.renderAll());
  private unsubscribe: (() => void) | null = null;
  private readonly onFaultPicked = (event: Event) => {
    const select = event.target;
    if (!(select instanceof HTMLSelectElement) || select.dataset.role !== 'fault' || !this.link.isPresenter) return;
    const gate = this.gates.find((candidate) => candidate.placeholder.contains(select));
    if (gate) void this.link.pickFault(gate.panel, select.value as AnyFaultName);
  };
  /** The presenter's BullMQ/Celery switch picks for the hall (the switch itself has already switched). */
  private readonly onRuntimePicked = (event: Event) => {
    const button = event.target instanceof Element ? event.target.closest<HTMLElement>('[data-role="runtime"] [data-runtime]') : null;
    if (!button || !this.link.isPresenter) return;
    const gate = this.gates.find((candidate) => candidate.placeholder.contains(button));
    const panel = gate ? runtimePanel(gate.panel) : null;
    if (panel) void this.link.pickRuntime(panel, button.dataset.runtime as RuntimeName);
  };

  constructor(
    private readonly link: HallLink,
    placeholders: readonly HTMLElement[],
  ) {
    for (const placeholder of placeholders) {
      const panel = audiencePanel(placeholder.dataset.panel);
      if (panel) this.gates.push(this.makeGate(panel, placeholder));
    }
  }

  render(): void {
    this.answer.hidden = true;
    document.body.append(this.answer);
    document.addEventListener('click', this.onClosedTap);
    for (const gate of this.gates) {
      this.observer.observe(gate.placeholder, { childList: true });
      gate.placeholder.addEventListener('change', this.onFaultPicked);
      gate.placeholder.addEventListener('click', this.onRuntimePicked);
    }
    this.unsubscribe = this.link.subscribe(() => this.renderAll());
    this.renderAll();
  }

  update(): void {
    this.renderAll();
  }

  destroy(): void {
    this.observer.disconnect();
    document.removeEventListener('click', this.onClosedTap);
    if (this.answerTimer) clearTimeout(this.answerTimer);
    this.answer.remove();
    this.unsubscribe?.();
    for (const gate of this.gates) {
      gate.placeholder.removeEventListener('change', this.onFaultPicked);
      gate.placeholder.removeEventListener('click', this.onRuntimePicked);
      gate.strip.remove();
      const body = gate.frame?.querySelector<HTMLElement>('.lp-body');
      if (body) body.inert = false;
    }
  }

  private makeGate(panel: AudiencePanel, placeholder: HTMLElement): Gate {
    const status = h('span', { className: 'hall-gate-status', attrs: { 'data-role': 'gate-status' } });
    const toggle = h('button', { className: 'hall-button hall-gate-toggle', attrs: { type: 'button', 'data-role': 'gate-toggle' } });
    const error = h('span', { className: 'hall-gate-error', attrs: { role: 'alert' } });
    const strip = h('div', { className: 'hall-gate', attrs: { 'data-role': 'gate' } }, status, toggle, error);
    const gate: Gate = { panel, placeholder, frame: null, strip, status, toggle, error };
    toggle.addEventListener('click', async () => {
      toggle.disabled = true;
      error.textContent = (await this.link.setOpen(panel, !this.link.isOpen(panel))) ?? '';
      toggle.disabled = false;
      this.renderGate(gate);
    });
    return gate;
  }

  private renderAll(): void {
    for (const gate of this.gates) this.renderGate(gate);
  }

  private renderGate(gate: Gate): void {
    // The frame may sit in the placeholder or, enlarged, in an overlay: the strip lives in the frame.
    const frame = gate.frame?.isConnected ? gate.frame : gate.placeholder.querySelector<HTMLElement>('.lp');
    if (!frame) return;
    gate.frame = frame;
    const role = this.link.role;
    const presenter = role === 'presenter';
    if (role === null || presenter) gate.strip.remove();
    if (role === null) return;
    if (!gate.strip.isConnected && !presenter) frame.querySelector('.lp-header')?.after(gate.strip);

    const opened = this.link.isOpen(gate.panel);
    const live = this.link.live;
    // With no talk live the server lets everyone fire every panel: the reader's own picks count.
    const open = opened || !live;
    const firing = this.link.firing[gate.panel] ?? 0;
    gate.strip.dataset.open = String(open);
    gate.strip.dataset.live = String(live);
    gate.placeholder.dataset.audience = open ? 'open' : 'closed';
    const firingText = firing > 0 ? ` · ${firing} ${firing === 1 ? 'person' : 'people'} firing` : '';
    gate.status.textContent = presenter
      ? `${!live ? 'No talk live: open to everyone' : opened ? 'Open to the hall' : 'Closed to the hall'}${firingText}`
      : !live
        ? `No talk is live: the demos are yours${firingText}`
        : open
          ? `Open: your taps go to the real Redis${firingText}`
          : 'Closed: the presenter opens this demo when its slide comes';
    gate.toggle.hidden = !presenter;
    gate.toggle.textContent = opened ? 'Close for the hall' : 'Open to the hall';
    gate.toggle.setAttribute('aria-pressed', String(opened));

    const body = frame.querySelector<HTMLElement>('.lp-body');
    if (body) body.inert = !presenter && !open;
    // A follower in a live talk runs the presenter's picks; a presenter, or a reader alone, picks.
    const picksOwn = presenter || !live;
    this.showRuntime(gate, frame, presenter, picksOwn);
    this.showFault(gate, frame, picksOwn);
  }

  /**
   * The BullMQ/Celery switch shows the presenter's pick (in every presenter window too);
   * a follower can read it but not change it. First, since switching refills the fault menu.
   */
  private showRuntime(gate: Gate, frame: HTMLElement, presenter: boolean, picksOwn: boolean): void {
    const panel = runtimePanel(gate.panel);
    const toggle = frame.querySelector<HTMLElement>('[data-role="runtime"]');
    if (!panel || !toggle || !this.link.state) return;
    if (!picksOwn || presenter) {
      // Every time, not only when it differs: the switch then counts as picked and stops following the run on screen.
      toggle.dispatchEvent(new CustomEvent(SHOW_RUNTIME_EVENT, { detail: this.link.state.runtimes[panel] ?? 'bullmq' }));
    }
    for (const button of toggle.querySelectorAll<HTMLButtonElement>('[data-runtime]')) {
      button.disabled = !picksOwn;
      if (!picksOwn) button.title = 'The presenter picks the framework';
    }
  }

  /** The fault menu shows the presenter's pick; a follower can read it but not change it. */
  private showFault(gate: Gate, frame: HTMLElement, picksOwn: boolean): void {
    const select = frame.querySelector<HTMLSelectElement>('select[data-role="fault"]');
    const fault = this.link.state?.faults[gate.panel];
    select?.toggleAttribute('disabled', !picksOwn);
    if (!select || !fault || (picksOwn && this.link.role !== 'presenter')) return;
    if ([...select.options].some((option) => option.value === fault)) select.value = fault;
    // Marked as chosen, so the panel's "follow the run on screen" leaves it alone.
    select.dataset.touched = 'true';
    select.title = picksOwn ? 'Fault for this panel (the hall runs this one too)' : 'The presenter picks the fault';
  }
}
