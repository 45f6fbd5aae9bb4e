import { describe, expect, it } from 'vitest';
import {
  Cleaner,
  NearDupIndex,
  RULE_NAMES,
  anonymize,
  exactDupKey,
  isBoilerplateLine,
  letterFraction,
  lshParams,
  luhnValid,
  removeBoilerplateLines,
  removeControlChars,
  shingleJaccard,
  stripMarkup,
  type RuleName,
} from '../../train/data/cleanup.ts';
import { Rng } from '../../kernels/random.ts';

function allRules(on = true): Record<RuleName, boolean> {
  const r = {} as Record<RuleName, boolean>;
  for (const n of RULE_NAMES) r[n] = on;
  return r;
}

function cleaner(rules: Partial<Record<RuleName, boolean>> = {}, threshold = 0.8): Cleaner {
  return new Cleaner({
    rules: { ...allRules(), ...rules },
    minChars: 20,
    minLetterFraction: 0.5,
    nearDupThreshold: threshold,
  });
}

/** A deterministic pseudo-English paragraph of n words. */
function prose(n: number, seed: number): string {
  const vocab = (
    'the sea whale ship captain harpoon crew deck sail wind storm calm water wave boat oar line rope ' +
    'ahab ishmael queequeg starbuck stubb flask white great old young dark light morning night day ' +
    'long short deep high low sang spoke watched waited ran climbed fell rose turned looked heard saw'
  ).split(' ');
  const rng = new Rng(seed, 'sfc32');
  return Array.from({ length: n }, () => vocab[rng.unbiasedInt(vocab.length)]).join(' ') + '.';
}

describe('noise: control characters', () => {
  it('removes C0/C1 controls but keeps tabs and newlines', () => {
    expect(removeControlChars('a\u0000b\u0007c\td\ne\u009f\u007f\uFEFFf')).toBe('abc\td\nef');
  });
});

describe('noise: markup', () => {
  it('strips tags, comments, scripts and decodes entities', () => {
    const html =
      '<html><head><title>T</title><style>p{color:red}</style></head><body>' +
      '<!-- nav --><p>Fish &amp; chips cost &lt;5 &#8364; &#x41;</p><script>alert("x")</script>' +
      '<div>Second <b>bold</b> <a href="/x">link</a></div></body></html>';
    const out = stripMarkup(html);
    expect(out).not.toMatch(/<\/?[a-z]|alert|color:red|nav/);
    expect(out).toContain('Fish & chips cost <5 € A');
    expect(out).toContain('Second bold link');
    expect(out.split('\n').length).toBeGreaterThan(1); // block tags became line breaks
  });

  it('leaves prose with angle brackets, e-mail autolinks and plain text alone', () => {
    for (const t of ['if a < b and c > d then', 'mail <john@example.com>', 'no markup here at all']) {
      expect(stripMarkup(t)).toBe(t);
    }
  });
});

describe('noise: boilerplate lines', () => {
  it('flags navigation and boilerplate', () => {
    for (const line of [
      'Home | About | Blog | Contact',
      'Home • News • Sport • Weather',
      'Skip to main content',
      'Share on Facebook',
      'All rights reserved.',
      'Copyright © 2023 Example Corp. All rights reserved.',
      'We use cookies to improve your experience.',
      'Read more',
      'Privacy Policy',
      'https://example.com/some/page',
      'Page 2 of 10',
    ]) {
      expect(isBoilerplateLine(line), line).toBe(true);
    }
  });

  it('keeps content lines, headings and Markdown tables', () => {
    for (const line of [
      'CHAPTER 1. Loomings.',
      'Call me Ishmael. Some years ago—never mind how long precisely—having',
      'He went home after the storm, tired | but happy.',
      '| name | age | city |',
      'Next morning the ship sailed.',
      'Terms of the agreement were harsh, and the crew knew it.',
    ]) {
      expect(isBoilerplateLine(line), line).toBe(false);
    }
  });

  it('removes the lines and counts them', () => {
    const r = removeBoilerplateLines('Home | About | Contact\nThe real text is here.\nShare this\n\nMore text.');
    expect(r.lines).toBe(2);
    expect(r.text).toBe('The real text is here.\n\nMore text.');
  });
});

describe('noise: short and non-letter documents', () => {
  it('measures letter fraction', () => {
    expect(letterFraction('abc def')).toBe(1);
    expect(letterFraction('12 34 56 ab')).toBeCloseTo(2 / 8);
  });

  it('drops them and counts per rule', () => {
    const c = cleaner();
    expect(c.process('Too short.')).toBeNull();
    expect(c.process('1234 5678 9012 3456 7890 | 12.5 | 13.75 | 99.0 | 100')).toBeNull();
    expect(c.process('A perfectly ordinary sentence about the sea and ships.')).not.toBeNull();
    expect(c.stats.tooShort.docsRemoved).toBe(1);
    expect(c.stats.tooShort.charsRemoved).toBe('Too short.'.length);
    expect(c.stats.nonLetter.docsRemoved).toBe(1);
  });

  it('can be switched off', () => {
    const c = cleaner({ tooShort: false, nonLetter: false });
    expect(c.process('Short.')).toBe('Short.');
    expect(c.process('12 34 56 78 90 12 34 56 78 90')).not.toBeNull();
    expect(c.stats.tooShort.enabled).toBe(false);
  });

  it('drops a document that only had markup, charged to the markup rule', () => {
    const c = cleaner();
    expect(c.process('<div><span></span><br/></div>')).toBeNull();
    expect(c.stats.markup.docsRemoved).toBe(1);
  });
});

describe('anonymization', () => {
  it('implements the Luhn check', () => {
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(luhnValid('4539148803436467')).toBe(true);
    expect(luhnValid('5555555555554444')).toBe(true);
    expect(luhnValid('4111111111111112')).toBe(false);
    expect(luhnValid('1234567812345678')).toBe(false);
  });

  it('replaces PII embedded in prose and counts each kind', () => {
    const text =
      'Write to jane.doe+news@example.co.uk or to Bob (bob_smith@mail.example.org) today. ' +
      'Call +1 555 123 4567, (555) 987-6543, 555.111.2222 or +44 20 7946 0958 after noon. ' +
      'The server at 192.168.0.12 and the router at 2001:db8::8a2e:370:7334 went down; loopback ::1 too. ' +
      'Pay with 4111 1111 1111 1111 or 4539-1488-0343-6467, not 4111 1111 1111 1112.';
    const { text: out, counts } = anonymize(text);
    expect(counts).toEqual({ email: 2, phone: 4, ip: 3, card: 2 });
    expect(out).toContain('Write to <EMAIL> or to Bob (<EMAIL>) today.');
    expect(out).toContain('Call <PHONE>, <PHONE>, <PHONE> or <PHONE> after noon.');
    expect(out).toContain('The server at <IP> and the router at <IP> went down; loopback <IP> too.');
    expect(out).toContain('Pay with <CARD> or <CARD>, not 4111 1111 1111 1112.');
  });

  it('leaves numbers that are not PII alone', () => {
    for (const t of [
      'In the years 1850 1851 1852 the whaling fleet grew.',
      'The meeting is at 12:30:45 on 2023-10-05.',
      'Chapter 42, verse 7; page 1234; 3.14159 is pi.',
      'An order number 1234567812345678 fails the Luhn check.',
      'The ratio was 1:2:3 and std::vector is C++.',
      'Version 1.2.3 and the year 1999.',
    ]) {
      expect(anonymize(t).text, t).toBe(t);
    }
  });

  it('counts changed documents in the cleaner', () => {
    const c = cleaner();
    expect(c.process('Contact me at someone@example.com for the details.')).toBe(
      'Contact me at <EMAIL> for the details.',
    );
    expect(c.stats.anonymize.docsChanged).toBe(1);
    expect(c.stats.anonymize.charsRemoved).toBe('someone@example.com'.length);
    expect(c.anonymized.email).toBe(1);
    const off = cleaner({ anonymize: false });
    expect(off.process('Contact me at someone@example.com for the details.')).toContain('someone@example.com');
  });
});

describe('exact duplicates', () => {
  it('hash whitespace-normalised text', () => {
    expect(exactDupKey('a  b\n\nc ')).toBe(exactDupKey(' a b c'));
    expect(exactDupKey('a b c')).not.toBe(exactDupKey('a b d'));
  });

  it('drop the second copy and keep the first', () => {
    const c = cleaner({ nearDup: false });
    const doc = 'The whale surfaced near the ship at dawn, and the crew watched.';
    expect(c.process(doc)).toBe(doc);
    expect(c.process(doc.replace(/ /g, '   \n'))).toBeNull();
    expect(c.stats.exactDup.docsRemoved).toBe(1);
    const off = cleaner({ exactDup: false, nearDup: false });
    expect(off.process(doc)).toBe(doc);
    expect(off.process(doc)).toBe(doc);
  });
});

describe('near duplicates', () => {
  const base = prose(200, 1);
  // The same text with three words changed.
  const words = base.split(' ');
  words[40] = 'zanzibar';
  words[100] = 'quixotic';
  words[160] = 'marmalade';
  const variant = words.join(' ');
  const other = prose(200, 2);

  it('crafted pair is similar but not identical', () => {
    const j = shingleJaccard(base, variant);
    expect(j).toBeGreaterThan(0.8);
    expect(j).toBeLessThan(0.95);
    expect(shingleJaccard(base, other)).toBeLessThan(0.1);
  });

  it('MinHash estimates Jaccard closely', () => {
    const idx = new NearDupIndex(0.8);
    const a = idx.signature(base) as Uint32Array;
    const b = idx.signature(variant) as Uint32Array;
    expect(Math.abs(NearDupIndex.similarity(a, b) - shingleJaccard(base, variant))).toBeLessThan(0.12);
  });

  it('chooses LSH bands x rows that fit the signature', () => {
    for (const t of [0.5, 0.8, 0.95]) {
      const { bands, rows } = lshParams(t, 128);
      expect(bands * rows).toBeLessThanOrEqual(128);
      // The S-curve's midpoint (1/b)^(1/r) sits near the threshold.
      expect(Math.abs(Math.pow(1 / bands, 1 / rows) - t)).toBeLessThan(0.15);
    }
  });

  it('drop a document that differs from an earlier one by a few words; keep the first', () => {
    const c = cleaner();
    expect(c.process(base)).toBe(base);
    expect(c.process(other)).toBe(other);
    expect(c.process(variant)).toBeNull();
    expect(c.stats.nearDup.docsRemoved).toBe(1);
    expect(c.stats.exactDup.docsRemoved).toBe(0);
  });

  it('respect the threshold and the switch', () => {
    const strict = cleaner({}, 0.99);
    expect(strict.process(base)).toBe(base);
    expect(strict.process(variant)).toBe(variant);
    const off = cleaner({ nearDup: false });
    expect(off.process(base)).toBe(base);
    expect(off.process(variant)).toBe(variant);
  });
});
