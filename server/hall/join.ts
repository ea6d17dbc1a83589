/**
 * Where phones join: `PUBLIC_URL` when the site sits behind a proxy or a name,
 * else the address the server listens on. A loopback address is still shown (the
 * presenter may be rehearsing alone) but flagged, because no phone can reach it.
 */
import { networkInterfaces } from 'node:os';
import QRCode from 'qrcode';
import type { JoinInfo } from '../protocol.ts';

export function joinInfo(publicUrl: string | undefined, listening: { host: string; port: number }): JoinInfo {
  if (publicUrl) {
    const url = new URL(publicUrl);
    return { url: url.href, loopback: isLoopback(url.hostname) };
  }
  const host = isWildcard(listening.host) ? (lanAddress() ?? '127.0.0.1') : listening.host;
  const shown = host.includes(':') ? `[${host}]` : host;
  return { url: `http://${shown}:${listening.port}/`, loopback: isLoopback(host) };
}

/** The join URL as a QR code, drawn as SVG (dark on light, with the quiet zone scanners need). */
export function joinQrSvg(url: string): Promise<string> {
  return QRCode.toString(url, { type: 'svg', margin: 2, errorCorrectionLevel: 'M', color: { dark: '#000000', light: '#ffffff' } });
}

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return bare === 'localhost' || bare === '::1' || bare.startsWith('127.') || bare.endsWith('.localhost');
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** The machine's first non-internal IPv4 address, the one a phone on the same Wi-Fi can reach. */
function lanAddress(): string | null {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return address.address;
    }
  }
  return null;
}
