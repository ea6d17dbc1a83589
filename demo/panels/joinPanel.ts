/**
 * The join slide: a QR code and the short URL phones open to follow the talk.
 * Both come from the server (`/api/join`, `/join.svg`), which builds them from
 * PUBLIC_URL or the address it listens on, so the code scans to where this
 * server really is. No socket: it is two plain requests.
 *
 * A printed deck goes where this machine does not: printed, a loopback address
 * (reachable from this machine alone) is not shown. Then, and where no server
 * answers (a static host, `npm run pdf`), the page names the public address the
 * build was told (PUBLIC_URL, as `og:url`: build/socialPreview.ts), if any.
 */
import type { JoinInfo } from '../../server/protocol.ts';
import { h } from '../dom.ts';
import type { PanelContext, PanelController, PanelOptions } from '../panel.ts';
import './join.css';

export class JoinPanel implements PanelController {
  private readonly qr = h('img', { className: 'join-qr', attrs: { alt: 'QR code of the join URL', 'data-role': 'join-qr', width: '320', height: '320' } });
  private readonly url = h('a', { className: 'join-url', attrs: { 'data-role': 'join-url' } });
  private readonly note = h('p', { className: 'join-note', attrs: { 'data-role': 'join-note' } });
  private readonly root = h('figure', { className: 'join' }, this.qr, h('figcaption', {}, this.url, this.note));
  private controller: AbortController | null = null;

  constructor(private readonly context: PanelContext) {}

  render(): void {
    this.qr.hidden = true;
    this.qr.addEventListener('load', () => (this.qr.hidden = false));
    this.qr.addEventListener('error', () => (this.qr.hidden = true));
    this.context.element.replaceChildren(this.root);
  }

  configure(_options: PanelOptions): void {
    this.controller?.abort();
    this.controller = new AbortController();
    void this.load(this.controller.signal);
  }

  update(): void {}

  destroy(): void {
    this.controller?.abort();
    this.root.remove();
  }

  private async load(signal: AbortSignal): Promise<void> {
    try {
      const response = await fetch('api/join', { signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const join = (await response.json()) as JoinInfo;
      if (join.loopback && this.context.mode === 'print') {
        this.showPublicAddress();
        return;
      }
      this.url.textContent = shortUrl(join.url);
      this.url.href = join.url;
      this.qr.src = 'join.svg';
      this.note.textContent = join.loopback ? 'This address is only reachable from this machine.' : 'Scan, or type the address: you follow the slides and fire the demos.';
    } catch {
      if (signal.aborted) return;
      // No server behind this page (a static build, a PDF).
      this.showPublicAddress();
    }
  }

  /** The address the build was told, without a QR code (that comes from a server); else where to go, in words. */
  private showPublicAddress(): void {
    const address = publicAddress();
    this.qr.removeAttribute('src');
    this.qr.hidden = true;
    this.url.textContent = address ? shortUrl(address) : '';
    if (address) this.url.href = address;
    else this.url.removeAttribute('href');
    this.note.textContent = address ? 'The live site: follow the slides on your phone and fire the demos.' : 'Open the live site on your phone to follow along.';
  }
}

/** The site's public address as the build was told it (PUBLIC_URL), or null. */
function publicAddress(): string | null {
  return document.querySelector<HTMLMetaElement>('meta[property="og:url"]')?.content || null;
}

/** The URL as people type it: no scheme, no trailing slash. */
function shortUrl(url: string): string {
  return url.replace(/^https?:\/\//, '').replace(/\/$/, '');
}
