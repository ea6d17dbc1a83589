/**
 * The chrome every live panel shares: a header with its title and connection
 * badge, a body the panel fills, and an "enlarge" toggle for phones.
 *
 * Why the toggle: reveal scales the whole 960x700 slide to the screen, so on a
 * phone a 400px panel shrinks to a third and its buttons to specks. Enlarged, the
 * panel's own element moves out of the scaled slide into a full-screen layer at
 * the phone's real size; its listeners move with it, and closing puts it back.
 */
import { ConnectionBadge } from './badge.ts';
import type { Connection } from './connection.ts';
import { h } from './dom.ts';

/** Below this on-screen width (CSS px) the panel's controls are too small for a finger. */
const SMALL_PANEL_PX = 300;

export interface FrameOptions {
  title: string;
  /** A short line under the title: what the panel shows, e.g. "pool main, live from Redis". */
  subtitle?: string;
}

export class PanelFrame {
  readonly root: HTMLElement;
  readonly body: HTMLElement;
  private readonly badge: ConnectionBadge;
  private readonly subtitle: HTMLElement;
  private readonly enlargeButton: HTMLButtonElement;
  private overlay: HTMLElement | null = null;
  private unsubscribe: (() => void) | null = null;
  private unsubscribeRedis: (() => void) | null = null;
  /** Shown while the server's Redis is down: the panel's data cannot be trusted or changed then. */
  private readonly redisNotice = h('div', {
    className: 'lp-redis-down',
    text: 'Redis unavailable: the server is bringing it back…',
    attrs: { role: 'status', 'data-role': 'redis-state' },
  });
  private readonly onKey = (event: KeyboardEvent) => {
    if (event.key === 'Escape') this.shrink();
  };
  /**
   * Space or Enter on a focused panel button presses the button, and must not also
   * reach reveal's document listener, which would advance the slide at the same time.
   */
  private readonly onButtonKey = (event: KeyboardEvent) => {
    if ((event.key === ' ' || event.key === 'Enter') && event.target instanceof HTMLButtonElement) event.stopPropagation();
  };
  /**
   * Shown too small to aim at (a phone, where the slide is scaled to a third), a tap
   * anywhere on the panel enlarges it instead of pressing whatever tiny thing is under
   * the finger. Measured on screen, so a tablet or a laptop keeps direct clicks.
   */
  private readonly onTapWhileSmall = (event: MouseEvent) => {
    if (this.overlay || this.root.getBoundingClientRect().width >= SMALL_PANEL_PX) return;
    event.preventDefault();
    event.stopPropagation();
    this.enlarge();
  };

  constructor(
    private readonly host: HTMLElement,
    private readonly connection: Connection,
    private readonly options: FrameOptions,
  ) {
    this.badge = new ConnectionBadge(connection);
    this.subtitle = h('span', { className: 'lp-subtitle' });
    this.enlargeButton = h('button', {
      className: 'lp-enlarge',
      text: '⤢',
      attrs: { type: 'button', 'aria-label': 'Enlarge the panel', title: 'Enlarge' },
    });
    this.enlargeButton.addEventListener('click', () => (this.overlay ? this.shrink() : this.enlarge()));
    this.body = h('div', { className: 'lp-body' });
    this.root = h(
      'div',
      { className: 'lp' },
      h('div', { className: 'lp-header' }, h('span', { className: 'lp-title', text: options.title }), this.subtitle, this.badge.element, this.enlargeButton),
      this.redisNotice,
      this.body,
    );
    this.redisNotice.hidden = true;
    this.root.addEventListener('click', this.onTapWhileSmall, { capture: true });
    this.root.addEventListener('keydown', this.onButtonKey);
  }

  render(): void {
    this.badge.render();
    // Marks the whole panel while not connected: what it shows may be stale (panels.css dims it).
    this.unsubscribe ??= this.connection.onState((state) => (this.root.dataset.connection = state));
    this.unsubscribeRedis ??= this.connection.onRedis((up) => {
      this.redisNotice.hidden = up;
      this.root.dataset.redis = up ? 'ok' : 'unavailable';
    });
    this.configure(this.options);
    this.host.replaceChildren(this.root);
  }

  configure(options: FrameOptions): void {
    this.subtitle.textContent = options.subtitle ?? '';
  }

  update(): void {
    this.badge.update();
  }

  /** Marks the panel as a replay of a recording (or live again): the badge and `data-source` say which. */
  setReplaying(replaying: boolean): void {
    this.root.dataset.source = replaying ? 'replay' : 'live';
    this.badge.setReplaying(replaying);
  }

  destroy(): void {
    this.shrink();
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.unsubscribeRedis?.();
    this.unsubscribeRedis = null;
    this.root.removeEventListener('click', this.onTapWhileSmall, { capture: true });
    this.root.removeEventListener('keydown', this.onButtonKey);
    this.badge.destroy();
    this.root.remove();
  }

  private enlarge(): void {
    if (this.overlay) return;
    this.overlay = h('div', { className: 'lp-overlay', attrs: { role: 'dialog', 'aria-label': this.options.title } });
    this.overlay.append(this.root);
    document.body.append(this.overlay);
    this.root.classList.add('lp-enlarged');
    this.enlargeButton.textContent = '✕';
    this.enlargeButton.setAttribute('aria-label', 'Back to the slide');
    this.enlargeButton.title = 'Back to the slide';
    document.addEventListener('keydown', this.onKey);
  }

  private shrink(): void {
    if (!this.overlay) return;
    document.removeEventListener('keydown', this.onKey);
    this.root.classList.remove('lp-enlarged');
    this.host.replaceChildren(this.root);
    this.overlay.remove();
    this.overlay = null;
    this.enlargeButton.textContent = '⤢';
    this.enlargeButton.setAttribute('aria-label', 'Enlarge the panel');
    this.enlargeButton.title = 'Enlarge';
  }
}
