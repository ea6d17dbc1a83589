/**
 * The connection badge in each panel's header. Every panel shows its own, so a
 * viewer looking at any one panel knows whether what it shows is live, without
 * a page-level banner that would cover the slide.
 */
import type { Connection, ConnectionState } from './connection.ts';
import { h } from './dom.ts';

const LABELS: Record<ConnectionState, string> = {
  connected: 'connected',
  reconnecting: 'reconnecting…',
  offline: 'offline',
};

export class ConnectionBadge {
  readonly element: HTMLElement;
  private readonly label: HTMLElement;
  private unsubscribe: (() => void) | null = null;
  /** Replaying a recording: the badge says so instead of the connection's state. */
  private replaying = false;

  constructor(private readonly connection: Connection) {
    this.label = h('span', { className: 'lp-badge-label' });
    this.element = h('span', { className: 'lp-badge', attrs: { role: 'status', 'data-role': 'badge' } }, h('span', { className: 'lp-badge-dot', attrs: { 'aria-hidden': 'true' } }), this.label);
  }

  render(): HTMLElement {
    this.unsubscribe ??= this.connection.onState(() => this.update());
    return this.element;
  }

  /** Says "recording" (a replay is shown) or the connection's state again. */
  setReplaying(replaying: boolean): void {
    this.replaying = replaying;
    this.update();
  }

  update(): void {
    if (this.replaying) {
      this.element.dataset.state = 'replay';
      this.label.textContent = 'recording';
      return;
    }
    const state = this.connection.state;
    this.element.dataset.state = state;
    // Before the first connect there is nothing to *re*connect to.
    this.label.textContent = state === 'reconnecting' && !this.connection.hasConnected ? 'connecting…' : LABELS[state];
  }

  destroy(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.element.remove();
  }
}
