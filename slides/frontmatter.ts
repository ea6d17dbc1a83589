/**
 * Splits a talk's Markdown into its front matter and its slides.
 *
 * The front matter is the small YAML subset the talks use: `key: value` lines
 * with plain, 'single' or "double" quoted scalars, numbers and flow lists
 * (`tags: ['a', 'b']`). Anything fancier is kept as the raw string.
 */
export interface TalkMeta {
  title?: string;
  theme?: string;
  /** Minutes. */
  duration?: number;
  tags?: string[];
  [key: string]: unknown;
}

export interface Talk {
  meta: TalkMeta;
  /** The Markdown after the front matter, without leading blank lines. */
  body: string;
}

const FRONT_MATTER = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;

export function parseTalk(source: string): Talk {
  const match = FRONT_MATTER.exec(source);
  if (!match) return { meta: {}, body: trimLeadingBlankLines(source) };
  const meta: TalkMeta = {};
  for (const line of (match[1] ?? '').split(/\r?\n/)) {
    const pair = /^([A-Za-z_][\w-]*)\s*:\s*(.*?)\s*$/.exec(line);
    if (!pair) continue;
    const [, key = '', raw = ''] = pair;
    meta[key] = parseValue(raw);
  }
  if (typeof meta.duration === 'string') meta.duration = Number.parseFloat(meta.duration);
  if (typeof meta.duration === 'number' && !Number.isFinite(meta.duration)) delete meta.duration;
  return { meta, body: trimLeadingBlankLines(source.slice(match[0].length)) };
}

/**
 * reveal's Markdown plugin takes the indentation of the template's first line
 * (blank lines included) as an indentation to strip from every line, which
 * would eat the code blocks' indentation: start the template on its first slide.
 */
function trimLeadingBlankLines(text: string): string {
  return text.replace(/^(?:[ \t]*\r?\n)+/, '');
}

function parseValue(raw: string): unknown {
  if (raw.startsWith('[') && raw.endsWith(']')) {
    const inner = raw.slice(1, -1).trim();
    if (inner === '') return [];
    return splitList(inner).map((item) => parseScalar(item.trim()));
  }
  return parseScalar(raw);
}

function splitList(inner: string): string[] {
  const items: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (let i = 0; i < inner.length; i++) {
    const ch = inner[i] ?? '';
    if (quote) {
      current += ch;
      if (ch === quote) {
        // '' inside single quotes is an escaped quote
        if (quote === "'" && inner[i + 1] === "'") current += inner[++i];
        else quote = null;
      }
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      current += ch;
    } else if (ch === ',') {
      items.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  items.push(current);
  return items;
}

function parseScalar(raw: string): unknown {
  if (raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'")) return raw.slice(1, -1).replace(/''/g, "'");
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw.slice(1, -1);
    }
  }
  if (/^-?\d+(?:\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'false') return raw === 'true';
  return raw;
}
