/**
 * Each live panel the audience can fire gets a strip under its header: whether
 * the presenter opened it to the hall and how many people are firing it, and
 * for the presenter the open/close toggle. While a panel is closed, a follower's
 * copy of it is inert (still live, not tappable); its fault menu always shows the
 * presenter's pick, which is the one a follower's run plays (the server says so
 * too). Generic over panels: it finds a panel's frame in its placeholder, also
 * when the panel is rendered later (panels load when their slide is near).
 */
import type { AudiencePanel, FaultName } from '../../server/protocol.ts';
import { h } from '../dom.ts';
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

interface Gate {
  panel: AudiencePanel;
  placeholder: HTMLElement;
  strip: HTMLElement;
  status: HTMLElement;
  toggle: HTMLButtonElement;
  error: HTMLElement;
}

export class PanelGates {
  private readonly gates: Gate[] = [];
  private readonly observer = new MutationObserver(() => this.renderAll());
  private unsubscribe: (() => void) | null = null;
  private readonly onFaultPicked = (event: Event) => {
    const select = event.target;
    if (!(select instanceof HTMLSelectElement) || select.dataset.role !== 'fault' || !this.link.isPresenter) return;
    const gate = this.gates.find((candidate) => candidate.placeholder.contains(select));
    if (gate) void this.link.pickFault(gate.panel, select.value as FaultName);
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
    for (const gate of this.gates) {
      this.observer.observe(gate.placeholder, { childList: true });
      gate.placeholder.addEventListener('change', this.onFaultPicked);
    }
    this.unsubscribe = this.link.subscribe(() => this.renderAll());
    this.renderAll();
  }

  update(): void {
    this.renderAll();
  }

  destroy(): void {
    this.observer.disconnect();
    this.unsubscribe?.();
    for (const gate of this.gates) {
      gate.placeholder.removeEventListener('change', this.onFaultPicked);
      gate.strip.remove();
      const body = gate.strip.parentElement?.querySelector<HTMLElement>('.lp-body');
      if (body) body.inert = false;
    }
  }

  private makeGate(panel: AudiencePanel, placeholder: HTMLElement): Gate {
    const status = h('span', { className: 'hall-gate-status', attrs: { 'data-role': 'gate-status' } });
    const toggle = h('button', { className: 'hall-button hall-gate-toggle', attrs: { type: 'button', 'data-role': 'gate-toggle' } });
    const error = h('span', { className: 'hall-gate-error', attrs: { role: 'alert' } });
    const strip = h('div', { className: 'hall-gate', attrs: { 'data-role': 'gate' } }, status, toggle, error);
    const gate: Gate = { panel, placeholder, strip, status, toggle, error };
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
    const frame = gate.strip.isConnected ? gate.strip.parentElement : gate.placeholder.querySelector<HTMLElement>('.lp');
    if (!frame) return;
    const role = this.link.role;
    if (role === null) {
      gate.strip.remove();
      return;
    }
    if (!gate.strip.isConnected) frame.querySelector('.lp-header')?.after(gate.strip);

    const open = this.link.isOpen(gate.panel);
    const presenter = role === 'presenter';
    const firing = this.link.firing[gate.panel] ?? 0;
    gate.strip.dataset.open = String(open);
    gate.placeholder.dataset.audience = open ? 'open' : 'closed';
    const firingText = firing > 0 ? ` · ${firing} ${firing === 1 ? 'person' : 'people'} firing` : '';
    gate.status.textContent = presenter
      ? `${open ? 'Open to the hall' : 'Closed to the hall'}${firingText}`
      : open
        ? `Open: your taps go to the real Redis${firingText}`
        : 'Closed: the presenter opens this demo when its slide comes';
    gate.toggle.hidden = !presenter;
    gate.toggle.textContent = open ? 'Close for the hall' : 'Open to the hall';
    gate.toggle.setAttribute('aria-pressed', String(open));

    const body = frame.querySelector<HTMLElement>('.lp-body');
    if (body) body.inert = !presenter && !open;
    this.showFault(gate, frame, presenter);
  }

  /** The fault menu shows the presenter's pick; a follower can read it but not change it. */
  private showFault(gate: Gate, frame: HTMLElement, presenter: boolean): void {
    const select = frame.querySelector<HTMLSelectElement>('select[data-role="fault"]');
    const fault = this.link.state?.faults[gate.panel];
    if (!select || !fault) return;
    if ([...select.options].some((option) => option.value === fault)) select.value = fault;
    // Marked as chosen, so the panel's "follow the run on screen" leaves it alone.
    select.dataset.touched = 'true';
    select.disabled = !presenter;
    select.title = presenter ? 'Fault for this panel (the hall runs this one too)' : 'The presenter picks the fault';
  }
}
