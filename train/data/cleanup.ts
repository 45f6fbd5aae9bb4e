// Cleanup rules. Each one is switchable and counted. Applied to every document in this order:
//
// noise (the group switch `noise` turns off all five):
//   controlChars  C0/C1 control characters (except tab and newline) and stray U+FEFF are deleted;
//   markup        HTML/XML tags, comments, script/style blocks are stripped and entities decoded;
//   boilerplate   navigation-like lines ("Home | About | Contact", "Skip to content", "Share on
//                 Facebook", "All rights reserved", cookie notices, bare URLs) are deleted;
//   tooShort      documents shorter than `minChars` characters (after the edits above) are dropped;
//   nonLetter     documents where fewer than `minLetterFraction` of the non-space characters are
//                 letters are dropped (tables of numbers, base64, symbol soup);
// anonymize       e-mail addresses, credit-card numbers (13-19 digits passing the Luhn check), IPv4
//                 and IPv6 addresses and phone numbers are replaced by <EMAIL>, <CARD>, <IP>, <PHONE>;
// exactDup        documents whose whitespace-normalised text was seen before are dropped;
// nearDup         documents whose estimated Jaccard similarity (MinHash over word 5-shingles, LSH
//                 banding) to an earlier kept document is >= the threshold are dropped; the first
//                 occurrence is kept.
import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';

export const RULE_NAMES = [
  'controlChars',
  'markup',
  'boilerplate',
  'tooShort',
  'nonLetter',
  'anonymize',
  'exactDup',
  'nearDup',
] as const;
export type RuleName = (typeof RULE_NAMES)[number];
export const NOISE_RULES: readonly RuleName[] = ['controlChars', 'markup', 'boilerplate', 'tooShort', 'nonLetter'];

export interface RuleStats {
  enabled: boolean;
  /** Documents dropped by this rule. */
  docsRemoved: number;
  /** Documents edited (kept, with text changed) by this rule. */
  docsChanged: number;
  /** Characters deleted: whole documents for dropping rules, net deletions for editing rules
   *  (for anonymize: characters of the replaced spans). */
  charsRemoved: number;
}

export interface AnonymizeCounts {
  email: number;
  phone: number;
  ip: number;
  card: number;
}

// ---------------------------------------------------------------------------------------------
// Noise

// Control characters are exactly what this rule removes.
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\uFEFF]/g;

export function removeControlChars(text: string): string {
  return text.replace(CONTROL_RE, '');
}

const TAG_RE = /<\/?[a-zA-Z][a-zA-Z0-9:-]*(?:\s[^<>]*)?\/?>/g;
const MARKUP_HINT_RE =
  /<\/?[a-zA-Z][a-zA-Z0-9:-]*(?:\s[^<>]*)?\/?>|<!--|<!DOCTYPE|&(?:[a-zA-Z]{2,8}|#\d{1,7}|#[xX][0-9a-fA-F]{1,6});/;
const BLOCK_TAG_RE =
  /<\/?(?:p|div|br|li|ul|ol|dl|dt|dd|tr|td|th|table|thead|tbody|h[1-6]|section|article|header|footer|nav|aside|main|blockquote|pre|hr|body|html|head|title|form|figure|figcaption)\b[^<>]*>/gi;
const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  mdash: '\u2014',
  ndash: '\u2013',
  hellip: '\u2026',
  lsquo: '\u2018',
  rsquo: '\u2019',
  ldquo: '\u201C',
  rdquo: '\u201D',
  copy: '\u00A9',
  reg: '\u00AE',
  trade: '\u2122',
  laquo: '\u00AB',
  raquo: '\u00BB',
  middot: '\u00B7',
  bull: '\u2022',
  eacute: '\u00E9',
};

function decodeEntities(text: string): string {
  return text.replace(
    /&(?:([a-zA-Z]{2,8})|#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6}));/g,
    (m, name?: string, dec?: string, hex?: string) => {
      if (name !== undefined) return ENTITIES[name] ?? ENTITIES[name.toLowerCase()] ?? m;
      const cp = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? '', 16);
      if (!(cp > 0 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff)) return m;
      return String.fromCodePoint(cp);
    },
  );
}

/** Strips HTML/XML markup: comments, script/style blocks, tags (block tags become line breaks), entities. */
export function stripMarkup(text: string): string {
  if (!MARKUP_HINT_RE.test(text)) return text;
  let t = text
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<!DOCTYPE[^>]*>/gi, '')
    .replace(/<(script|style|noscript|iframe|svg|template)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    .replace(BLOCK_TAG_RE, '\n')
    .replace(TAG_RE, '');
  t = decodeEntities(t);
  return t
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+/, '')
    .trimEnd();
}

const BOILERPLATE_RE = new RegExp(
  '^\\s*(?:' +
    [
      'skip to (?:the )?(?:main )?(?:content|navigation)',
      'back to top',
      '(?:main )?menu',
      'home(?:page)?',
      'log ?in',
      'log ?out',
      'sign ?in',
      'sign ?up',
      'sign ?out',
      'register',
      'subscribe(?: now| to (?:our|the) [\\w ]{1,30})?',
      'share(?: this(?: (?:post|article|page|story))?)?(?: (?:on|via|with) [\\w ]{1,30})?',
      'tweet(?: this)?',
      'print(?: this)?(?: page| article)?',
      'read more(?: »| >>|…|\\.\\.\\.)?',
      'continue reading.{0,40}',
      'click here.{0,60}',
      '(?:next|previous|prev)(?: (?:page|post|article))?(?: »| >>| «| <<)?',
      'all rights reserved\\.?',
      '(?:copyright|©|\\(c\\))\\s*(?:©\\s*)?\\d{4}.{0,80}',
      'privacy(?: policy| notice)?',
      'terms(?: of (?:use|service))?',
      'terms (?:&|and) conditions',
      'cookie (?:policy|settings|preferences)',
      '(?:accept|reject)(?: all)? cookies',
      'this (?:site|website) uses cookies.{0,120}',
      'we use cookies.{0,120}',
      'follow us(?: on [\\w ]{1,30})?',
      'advertisement',
      'sponsored(?: content)?',
      'related (?:posts|articles|stories)',
      'powered by .{1,40}',
      'page \\d+ of \\d+',
      '(?:https?://|www\\.)\\S+',
    ].join('|') +
    ')\\s*[.:!]?\\s*$',
  'i',
);

const NAV_SEP_RE = /\s*(?:\||•|·|»|›|::)\s*/;

/** True for a line that looks like site navigation or boilerplate rather than content. */
export function isBoilerplateLine(line: string): boolean {
  const t = line.trim();
  if (t === '' || t.length > 160) return false;
  if (BOILERPLATE_RE.test(t)) return true;
  // "Home | News | Sport | Contact": three or more short items between separators (but not a
  // Markdown table row, which starts with a pipe).
  if (t.startsWith('|')) return false;
  const items = t.split(NAV_SEP_RE).filter((s) => s !== '');
  if (items.length < 3) return false;
  return items.every((s) => s.length <= 30 && s.split(/\s+/).length <= 4 && !/[.!?;,]$/.test(s));
}

export function removeBoilerplateLines(text: string): { text: string; lines: number } {
  const lines = text.split('\n');
  const kept = lines.filter((l) => !isBoilerplateLine(l));
  if (kept.length === lines.length) return { text, lines: 0 };
  const t = kept
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+/, '')
    .trimEnd();
  return { text: t, lines: lines.length - kept.length };
}

/** Letters / non-whitespace characters (1 for a text without any non-space character). */
export function letterFraction(text: string): number {
  const nonSpace = text.replace(/\s/g, '').length;
  if (nonSpace === 0) return 1;
  const letters = text.length - text.replace(/\p{L}/gu, '').length;
  return letters / nonSpace;
}

// ---------------------------------------------------------------------------------------------
// Anonymization

/** The Luhn checksum used by payment card numbers. */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

const CARD_RE = /(?<![\d-])\d(?:[ -]?\d){12,18}(?!\d)/g;
const EMAIL_RE =
  /(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,}(?![\p{L}\p{N}-])/gu;
const IPV6_RE = /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*/g;
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4_RE = new RegExp(`(?<![\\d.])(?:${OCTET}\\.){3}${OCTET}(?!\\.?\\d)`, 'g');
const PHONE_RE = new RegExp(
  [
    // international: +CC then 2-5 groups
    '(?<![\\w+])\\+\\d{1,3}(?:[ .-]?\\(?\\d{1,4}\\)?){2,5}(?![\\w])',
    // North American: (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567
    '(?<![\\w(])(?:\\(\\d{3}\\)[ ]?|\\d{3}[ .-])\\d{3}[ .-]\\d{4}(?![\\w])',
    // national trunk prefix 0: 020 7946 0958, 030-1234-5678
    '(?<![\\w])0\\d{1,4}[ ./-]\\d{3,4}[ .-]?\\d{3,4}(?![\\w])',
  ].join('|'),
  'g',
);

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

/** Replaces personal data with placeholders; returns the new text and what was replaced. */
export function anonymize(text: string): { text: string; counts: AnonymizeCounts; charsReplaced: number } {
  const counts: AnonymizeCounts = { email: 0, phone: 0, ip: 0, card: 0 };
  let charsReplaced = 0;
  // Cheap pre-checks keep the common case (no digits, no @) fast.
  const hasDigit = /\d/.test(text);
  let t = text;
  if (hasDigit) {
    t = t.replace(CARD_RE, (m) => {
      const digits = m.replace(/[ -]/g, '');
      if (digits.length < 13 || digits.length > 19 || !luhnValid(digits)) return m;
      counts.card++;
      charsReplaced += m.length;
      return '<CARD>';
    });
  }
  if (t.includes('@')) {
    t = t.replace(EMAIL_RE, (m) => {
      counts.email++;
      charsReplaced += m.length;
      return '<EMAIL>';
    });
  }
  if (t.includes(':')) {
    t = t.replace(IPV6_RE, (m) => {
      const core = m.replace(/\.+$/, '');
      const tail = m.slice(core.length);
      if (!/[0-9A-Fa-f]/.test(core) || !isIPv6(core)) return m;
      counts.ip++;
      charsReplaced += core.length;
      return '<IP>' + tail;
    });
  }
  if (hasDigit) {
    t = t.replace(IPV4_RE, (m) => {
      counts.ip++;
      charsReplaced += m.length;
      return '<IP>';
    });
    t = t.replace(PHONE_RE, (m) => {
      const n = countDigits(m);
      if (n < 7 || n > 15) return m;
      counts.phone++;
      charsReplaced += m.length;
      return '<PHONE>';
    });
  }
  return { text: t, counts, charsReplaced };
}

// ---------------------------------------------------------------------------------------------
// Exact duplicates

/** Key of the whitespace-normalised text (128-bit MD5; collisions are not a practical concern here). */
export function exactDupKey(text: string): string {
  return createHash('md5').update(text.replace(/\s+/g, ' ').trim()).digest('base64');
}

// ---------------------------------------------------------------------------------------------
// Near duplicates: MinHash + LSH

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Lower-cased word tokens (runs of letters and digits). */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** Exact Jaccard similarity of the word-shingle sets of two texts (for tests and diagnostics). */
export function shingleJaccard(a: string, b: string, k = 5): number {
  const sa = new Set(shingles(words(a), k));
  const sb = new Set(shingles(words(b), k));
  let inter = 0;
  for (const s of sa) if (sb.has(s)) inter++;
  const union = sa.size + sb.size - inter;
  return union === 0 ? 1 : inter / union;
}

function shingles(ws: string[], k: number): string[] {
  if (ws.length === 0) return [];
  if (ws.length <= k) return [ws.join(' ')];
  const out: string[] = [];
  for (let i = 0; i + k <= ws.length; i++) out.push(ws.slice(i, i + k).join(' '));
  return out;
}

/** Probability that a pair with Jaccard s becomes an LSH candidate with b bands of r rows. */
function candidateProb(s: number, b: number, r: number): number {
  return 1 - Math.pow(1 - Math.pow(s, r), b);
}

function integrate(f: (x: number) => number, a: number, b: number, steps = 64): number {
  if (b <= a) return 0;
  const h = (b - a) / steps;
  let sum = 0.5 * (f(a) + f(b));
  for (let i = 1; i < steps; i++) sum += f(a + i * h);
  return sum * h;
}

/**
 * Bands and rows (b * r <= numPerm) minimising the weighted areas of false positives (below the
 * threshold) and false negatives (above it), as datasketch does. False negatives weigh more because
 * every candidate is verified against the signature afterwards.
 */
export function lshParams(
  threshold: number,
  numPerm: number,
  fpWeight = 0.3,
  fnWeight = 0.7,
): { bands: number; rows: number } {
  let best = { bands: 1, rows: numPerm, err: Infinity };
  for (let b = 1; b <= numPerm; b++) {
    for (let r = 1; b * r <= numPerm; r++) {
      const fp = integrate((s) => candidateProb(s, b, r), 0, threshold);
      const fn = integrate((s) => 1 - candidateProb(s, b, r), threshold, 1);
      const err = fp * fpWeight + fn * fnWeight;
      if (err < best.err - 1e-12) best = { bands: b, rows: r, err };
    }
  }
  return { bands: best.bands, rows: best.rows };
}

export interface NearDupOptions {
  numPerm?: number;
  shingleSize?: number;
  seed?: number;
}

/**
 * Streaming near-duplicate filter: `check(text)` returns the earlier kept document a text nearly
 * duplicates (estimated Jaccard >= threshold), or inserts it and returns undefined.
 */
export class NearDupIndex {
  readonly threshold: number;
  readonly numPerm: number;
  readonly shingleSize: number;
  readonly bands: number;
  readonly rows: number;
  private readonly seeds: Uint32Array;
  private readonly sigs: Uint32Array[] = [];
  private readonly buckets = new Map<string, number[]>();

  constructor(threshold: number, opts: NearDupOptions = {}) {
    if (!(threshold > 0 && threshold <= 1))
      throw new RangeError(`near-duplicate threshold must be in (0, 1], got ${threshold}`);
    this.threshold = threshold;
    this.numPerm = opts.numPerm ?? 128;
    this.shingleSize = opts.shingleSize ?? 5;
    const { bands, rows } = lshParams(threshold, this.numPerm);
    this.bands = bands;
    this.rows = rows;
    this.seeds = new Uint32Array(this.numPerm);
    let s = (opts.seed ?? 0x5eed) >>> 0;
    for (let i = 0; i < this.numPerm; i++) {
      s = (s + 0x9e3779b9) >>> 0;
      this.seeds[i] = fmix32(s);
    }
  }

  /** MinHash signature of a text's word shingles (undefined for a text without words). */
  signature(text: string): Uint32Array | undefined {
    const ws = words(text);
    if (ws.length === 0) return undefined;
    const wh = ws.map(fnv1a);
    const k = Math.min(this.shingleSize, wh.length);
    const sig = new Uint32Array(this.numPerm).fill(0xffffffff);
    const seeds = this.seeds;
    const P = this.numPerm;
    for (let i = 0; i + k <= wh.length; i++) {
      let h = 0x9747b28c;
      for (let j = 0; j < k; j++) h = fmix32(Math.imul(h ^ (wh[i + j] as number), 0x01000193));
      for (let p = 0; p < P; p++) {
        const v = fmix32(h ^ (seeds[p] as number));
        if (v < (sig[p] as number)) sig[p] = v;
      }
    }
    return sig;
  }

  /** Fraction of equal signature entries: an unbiased estimate of the Jaccard similarity. */
  static similarity(a: Uint32Array, b: Uint32Array): number {
    let eq = 0;
    for (let i = 0; i < a.length; i++) if (a[i] === b[i]) eq++;
    return eq / a.length;
  }

  private bandKeys(sig: Uint32Array): string[] {
    const keys: string[] = [];
    for (let b = 0; b < this.bands; b++) {
      let h1 = 0x811c9dc5 ^ b;
      let h2 = 0x3c6ef372 ^ Math.imul(b, 0x9e3779b9);
      for (let r = 0; r < this.rows; r++) {
        const v = sig[b * this.rows + r] as number;
        h1 = Math.imul(h1 ^ v, 0x01000193);
        h2 = fmix32(h2 ^ v);
      }
      keys.push(`${b}:${(h1 >>> 0).toString(36)}:${h2.toString(36)}`);
    }
    return keys;
  }

  check(text: string): { duplicateOf: number; similarity: number } | undefined {
    const sig = this.signature(text);
    if (sig === undefined) return undefined;
    const keys = this.bandKeys(sig);
    const tried = new Set<number>();
    for (const key of keys) {
      const bucket = this.buckets.get(key);
      if (bucket === undefined) continue;
      for (const id of bucket) {
        if (tried.has(id)) continue;
        tried.add(id);
        const sim = NearDupIndex.similarity(sig, this.sigs[id] as Uint32Array);
        if (sim >= this.threshold) return { duplicateOf: id, similarity: sim };
      }
    }
    const id = this.sigs.length;
    this.sigs.push(sig);
    for (const key of keys) {
      const bucket = this.buckets.get(key);
      if (bucket === undefined) this.buckets.set(key, [id]);
      else bucket.push(id);
    }
    return undefined;
  }

  get size(): number {
    return this.sigs.length;
  }
}

// ---------------------------------------------------------------------------------------------
// The pipeline

export interface CleanupOptions {
  rules: Record<RuleName, boolean>;
  minChars: number;
  minLetterFraction: number;
  nearDupThreshold: number;
}

export const DEFAULT_CLEANUP: Omit<CleanupOptions, 'rules'> = {
  minChars: 20,
  minLetterFraction: 0.5,
  nearDupThreshold: 0.8,
};

/** Runs the enabled rules over documents one at a time and keeps the counts. */
export class Cleaner {
  readonly stats: Record<RuleName, RuleStats>;
  readonly anonymized: AnonymizeCounts = { email: 0, phone: 0, ip: 0, card: 0 };
  readonly nearDup: NearDupIndex | undefined;
  private readonly seen = new Set<string>();

  constructor(private readonly opts: CleanupOptions) {
    const s = {} as Record<RuleName, RuleStats>;
    for (const r of RULE_NAMES) s[r] = { enabled: opts.rules[r], docsRemoved: 0, docsChanged: 0, charsRemoved: 0 };
    this.stats = s;
    this.nearDup = opts.rules.nearDup ? new NearDupIndex(opts.nearDupThreshold) : undefined;
  }

  private edit(rule: RuleName, before: string, after: string): string {
    if (after !== before) {
      const st = this.stats[rule];
      st.docsChanged++;
      st.charsRemoved += before.length - after.length;
    }
    return after;
  }

  private drop(rule: RuleName, text: string): null {
    const st = this.stats[rule];
    st.docsRemoved++;
    st.charsRemoved += text.length;
    return null;
  }

  /** The cleaned text, or null when the document is dropped. */
  process(input: string): string | null {
    const r = this.opts.rules;
    let t = input;
    let lastEdit: RuleName = 'tooShort';
    const apply = (rule: RuleName, f: (x: string) => string): void => {
      const next = this.edit(rule, t, f(t));
      if (next !== t) lastEdit = rule;
      t = next;
    };
    if (r.controlChars) apply('controlChars', removeControlChars);
    if (r.markup) apply('markup', stripMarkup);
    if (r.boilerplate) apply('boilerplate', (x) => removeBoilerplateLines(x).text);
    // Nothing left after the edits: the rule that emptied the document drops it.
    if (t.trim() === '') return this.drop(lastEdit, t);
    if (r.tooShort && t.trim().length < this.opts.minChars) return this.drop('tooShort', t);
    if (r.nonLetter && letterFraction(t) < this.opts.minLetterFraction) return this.drop('nonLetter', t);
    if (r.anonymize) {
      const a = anonymize(t);
      if (a.text !== t) {
        const st = this.stats.anonymize;
        st.docsChanged++;
        st.charsRemoved += a.charsReplaced;
        this.anonymized.email += a.counts.email;
        this.anonymized.phone += a.counts.phone;
        this.anonymized.ip += a.counts.ip;
        this.anonymized.card += a.counts.card;
        t = a.text;
      }
    }
    if (r.exactDup) {
      const key = exactDupKey(t);
      if (this.seen.has(key)) return this.drop('exactDup', t);
      this.seen.add(key);
    }
    if (this.nearDup !== undefined && this.nearDup.check(t) !== undefined) return this.drop('nearDup', t);
    return t;
  }
}
