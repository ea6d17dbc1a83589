/**
 * The release-cost chart: server µs per call against pool size, both on log
 * scales, one line per script, pipelined (the steadier of the two server times on
 * a shared machine; the table has both). Plain SVG, no library.
 */
import type { Summary, Variant } from './releaseCost.ts';

const COLORS: Record<Variant, string> = { talk: '#d9534f', fenced: '#2e8b57', floor: '#777777' };
const LABELS: Record<Variant, string> = { talk: "talk's release (list scan)", fenced: 'fenced release (O(1))', floor: 'floor: DEL + LPUSH + RPOP' };

export function releaseCostChart(summary: Summary[]): string {
  const width = 640;
  const height = 400;
  const left = 70;
  const right = 200;
  const top = 30;
  const bottom = 50;
  const sizes = [...new Set(summary.map((s) => s.size))].sort((a, b) => a - b);
  const points = summary.filter((s) => s.mode === 'pipelined');
  const maxUs = Math.max(...points.map((p) => p.serverUsPerCall));
  const yMinExp = 0;
  const yMaxExp = Math.max(1, Math.ceil(Math.log10(maxUs)));
  const xMin = Math.log10(sizes[0]!);
  const xMax = Math.log10(sizes.at(-1)!);
  const x = (size: number) => left + ((Math.log10(size) - xMin) / (xMax - xMin)) * (width - left - right);
  const y = (us: number) => top + (1 - (Math.log10(Math.max(us, 10 ** yMinExp)) - yMinExp) / (yMaxExp - yMinExp)) * (height - top - bottom);

  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`);
  parts.push(`<text x="${left}" y="18" font-size="14" font-weight="bold">Release cost in Redis: server µs per call (log), pipelined, by pool size (log)</text>`);
  for (let e = yMinExp; e <= yMaxExp; e++) {
    const yy = y(10 ** e);
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 8}" y="${yy + 4}" text-anchor="end">${(10 ** e).toLocaleString('en-US')} µs</text>`);
  }
  for (const size of sizes) {
    parts.push(`<line x1="${x(size)}" x2="${x(size)}" y1="${top}" y2="${height - bottom}" stroke="#eee"/>`);
    parts.push(`<text x="${x(size)}" y="${height - bottom + 18}" text-anchor="middle">${size.toLocaleString('en-US')}</text>`);
  }
  parts.push(`<text x="${(left + width - right) / 2}" y="${height - 12}" text-anchor="middle">executors in the pool</text>`);
  (['talk', 'fenced', 'floor'] as Variant[]).forEach((variant, i) => {
    const line = points.filter((p) => p.variant === variant).sort((a, b) => a.size - b.size);
    const path = line.map((p, j) => `${j ? 'L' : 'M'}${x(p.size).toFixed(1)},${y(p.serverUsPerCall).toFixed(1)}`).join(' ');
    parts.push(`<path d="${path}" fill="none" stroke="${COLORS[variant]}" stroke-width="2.5"/>`);
    for (const p of line) {
      parts.push(`<circle cx="${x(p.size).toFixed(1)}" cy="${y(p.serverUsPerCall).toFixed(1)}" r="4" fill="${COLORS[variant]}"/>`);
      // Labels above the point, the floor's below, so the two low lines do not write over each other.
      const dy = variant === 'floor' ? 16 : -6;
      parts.push(`<text x="${(x(p.size) + 6).toFixed(1)}" y="${(y(p.serverUsPerCall) + dy).toFixed(1)}" fill="${COLORS[variant]}">${p.serverUsPerCall >= 100 ? Math.round(p.serverUsPerCall).toLocaleString('en-US') : p.serverUsPerCall.toFixed(1)}</text>`);
    }
    const ly = top + 20 + i * 22;
    parts.push(`<line x1="${width - right + 15}" x2="${width - right + 40}" y1="${ly}" y2="${ly}" stroke="${COLORS[variant]}" stroke-width="2.5"/>`);
    parts.push(`<text x="${width - right + 46}" y="${ly + 4}">${LABELS[variant]}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
