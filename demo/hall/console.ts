/**
 * The presenter's console (loaded only in a presenter's window): whether this window
 * drives the hall, who is connected and following, where the others are, how often
 * each panel was fired in the last minute and by how many people now, each pool as
 * Redis holds it, the open/close toggles, and "reset everything" between rehearsals.
 * Every number comes from the server (`hall:console`), refreshed while it is open.
 * It lives in the speaker view (docked: always open there), or, when the presenter
 * asks for it (`C`), over the slide.
 */
import type { AudiencePanel, HallConsole as ConsoleNumbers } from '../../server/protocol.ts';
import { slideName } from '../slideNumber.ts';
import { h } from '../dom.ts';
import type { HallLink } from './hallLink.ts';

const REFRESH_MS = 2000;

const PANEL_TITLES: Record<AudiencePanel, string> = {
  'innocent-pattern': 'Act 1: the innocent pattern',
  journey: 'The journey (3 attempts)',
  'lua-release': 'The Lua script (pool main)',
  defense: 'Defense in depth',
  'edge-case-test': 'The edge-case test',
  'late-duplicate': 'Beyond the talk: the late duplicate',
};

export class HallConsole {
  readonly element: HTMLElement;
  private readonly body = h('div', { className: 'hall-console-body', attrs: { 'data-role': 'console-body' } });
  private readonly error = h('div', { className: 'hall-console-error', attrs: { role: 'alert' } });
  private readonly driving = h('span', { className: 'hall-console-driving', attrs: { 'data-role': 'console-driving' } });
  private timer: ReturnType<typeof setInterval> | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly onKey = (event: KeyboardEvent) => {
    if (event.key === 'Escape') this.close();
  };

  /** `docked`: a part of the speaker view's page, open for as long as that page is. */
  constructor(
    private readonly link: HallLink,
    private readonly docked = false,
  ) {
    const closeButton = h('button', { className: 'hall-button', text: '✕', attrs: { type: 'button', 'aria-label': 'Close the console', 'data-role': 'close-console' } });
    closeButton.addEventListener('click', () => this.close());
    closeButton.hidden = docked;
    this.element = h(
      docked ? 'section' : 'aside',
      {
        className: docked ? 'hall-console hall-console-docked' : 'hall-console',
        attrs: { ...(docked ? {} : { role: 'dialog' }), 'aria-label': 'Hall console', 'data-role': docked ? 'docked-console' : 'hall-console' },
      },
      h('div', { className: 'hall-console-head' }, h('strong', { text: 'Hall console' }), this.driving, closeButton),
      this.error,
      this.body,
    );
    this.element.hidden = true;
  }

  get isOpen(): boolean {
    return !this.element.hidden;
  }

  /** Into `parent` (the speaker view's controls), or over the slide. */
  render(parent: HTMLElement = document.body): void {
    parent.append(this.element);
    this.unsubscribe = this.link.subscribe((change) => {
      if (change !== 'firing' && this.isOpen) void this.refresh();
    });
    if (this.docked) this.open();
  }

  open(): void {
    this.element.hidden = false;
    if (!this.docked) document.addEventListener('keydown', this.onKey);
    void this.refresh();
    this.timer ??= setInterval(() => void this.refresh(), REFRESH_MS);
  }

  close(): void {
    this.element.hidden = true;
    document.removeEventListener('keydown', this.onKey);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  toggle(): void {
    if (this.isOpen) this.close();
    else this.open();
  }

  destroy(): void {
    this.close();
    this.unsubscribe?.();
    this.element.remove();
  }

  private async refresh(): Promise<void> {
    const result = await this.link.connection.request('hall:console', {});
    if (!result.ok) {
      this.error.textContent = `The console cannot read the hall: ${result.message}`;
      return;
    }
    this.error.textContent = '';
    this.driving.textContent = this.link.superseded ? 'another presenter window drives the hall' : 'this deck drives the hall';
    this.driving.dataset.driving = String(!this.link.superseded);
    this.renderNumbers(result.data);
  }

  private renderNumbers(numbers: ConsoleNumbers): void {
    const away = numbers.awayBySlide.map((slot) => `slide ${slideName(slot)}: ${slot.viewers}`).join(', ');
    const rows = (Object.keys(PANEL_TITLES) as AudiencePanel[]).map((panel) => this.panelRow(panel, numbers));
    const reset = h('button', { className: 'hall-button hall-danger', text: 'Reset everything', attrs: { type: 'button', 'data-role': 'reset-everything' } });
    reset.addEventListener('click', async () => {
      // Asked in the window the console is in (the speaker view's, when docked).
      if (!(this.element.ownerDocument.defaultView ?? window).confirm('Reset every pool, close every panel and go back to the first slide?')) return;
      reset.disabled = true;
      this.error.textContent = (await this.link.resetEverything()) ?? '';
      reset.disabled = false;
      await this.refresh();
    });
    this.body.replaceChildren(
      ...numbers.warnings.map((warning) => h('p', { className: 'hall-console-warning', text: `⚠ ${warning}`, attrs: { 'data-role': 'console-warning' } })),
      h(
        'dl',
        { className: 'hall-console-numbers' },
        h('dt', { text: 'Talk' }),
        h('dd', { text: talkLine(numbers), attrs: { 'data-role': 'talk', 'data-live': String(numbers.state.live) } }),
        h('dt', { text: 'Viewers connected' }),
        h('dd', { text: `${numbers.viewers} (${numbers.sessions} ${numbers.sessions === 1 ? 'person' : 'people'})`, attrs: { 'data-role': 'viewers' } }),
        h('dt', { text: 'Following' }),
        h('dd', { text: `${numbers.following} on slide ${slideName(numbers.state)}`, attrs: { 'data-role': 'following' } }),
        h('dt', { text: 'Stepped away' }),
        h('dd', { text: away || 'nobody', attrs: { 'data-role': 'away' } }),
        h('dt', { text: 'Join at' }),
        h('dd', { text: numbers.join.url }),
      ),
      h('table', { className: 'hall-console-table' },
        h('thead', {}, h('tr', {}, h('th', { text: 'panel' }), h('th', { text: 'taps / min' }), h('th', { text: 'firing' }), h('th', { text: 'audience' }))),
        h('tbody', {}, ...rows),
      ),
      h('table', { className: 'hall-console-table', attrs: { 'data-role': 'pools' } },
        h('thead', {}, h('tr', {}, h('th', { text: 'pool' }), h('th', { text: 'available' }), h('th', { text: 'busy' }), h('th', { text: 'executors' }))),
        h('tbody', {}, ...numbers.pools.map((pool) =>
          h('tr', { attrs: { 'data-pool': pool.pool } },
            h('td', { text: pool.pool }),
            h('td', { text: String(pool.available.length) }),
            h('td', { text: String(Object.keys(pool.busy).length) }),
            h('td', { text: String(pool.executors.length) }),
          ),
        )),
      ),
      reset,
    );
  }

  private panelRow(panel: AudiencePanel, numbers: ConsoleNumbers): HTMLElement {
    const open = numbers.state.open.includes(panel);
    const toggle = h('button', { className: 'hall-button', text: open ? 'Close' : 'Open', attrs: { type: 'button', 'aria-pressed': String(open), 'data-role': 'console-toggle' } });
    toggle.addEventListener('click', async () => {
      toggle.disabled = true;
      this.error.textContent = (await this.link.setOpen(panel, !open)) ?? '';
      await this.refresh();
    });
    return h('tr', { attrs: { 'data-panel-row': panel } },
      h('td', { text: PANEL_TITLES[panel] }),
      h('td', { text: String(numbers.triggersLastMinute[panel] ?? 0) }),
      h('td', { text: String(numbers.firing[panel] ?? 0) }),
      h('td', {}, toggle),
    );
  }
}

/** Whether the presenter's gating applies, and when it stops (the server's idle time). */
function talkLine(numbers: ConsoleNumbers): string {
  const idle = numbers.presenterIdleSeconds >= 120 ? `${Math.round(numbers.presenterIdleSeconds / 60)} min` : `${numbers.presenterIdleSeconds} s`;
  return numbers.state.live
    ? `Live: the hall fires only what you open (${idle} after the last presenter window closes, every demo opens to all)`
    : 'No talk is live: every demo is open to everyone, within the limits';
}
