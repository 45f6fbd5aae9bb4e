// The sentence splitter and the chapter splitter of next-sentence prediction, on hand-made cases:
// each rule of train/data/sentences.ts's header, and the cases each rule exists to keep whole.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultCorpusPath } from '../../train/data/default-corpus.ts';
import { hasChapters, isAbbreviation, splitChapters, splitSentences } from '../../train/data/sentences.ts';

describe('splitSentences', () => {
  it('ends sentences at . ! ? and … followed by whitespace and a capital', () => {
    expect(splitSentences('It rained. Was it cold? Yes! The end… Then more.')).toEqual([
      'It rained.',
      'Was it cold?',
      'Yes!',
      'The end…',
      'Then more.',
    ]);
  });

  it('keeps runs of terminal punctuation and closing quotes with their sentence', () => {
    expect(splitSentences('“Is he mad?!” she asked. He said... “No.” (Fine.) Then done.')).toEqual([
      '“Is he mad?!” she asked.',
      'He said...',
      '“No.”',
      '(Fine.)',
      'Then done.',
    ]);
  });

  it('does not split before a lowercase word (dialogue tags, mid-sentence exclamations)', () => {
    expect(splitSentences('“Oh! he’s a good one,” said he. “Aye?” asked I.')).toEqual([
      '“Oh! he’s a good one,” said he.',
      '“Aye?” asked I.',
    ]);
  });

  it('does not split after abbreviations, dotted short forms and initials', () => {
    const text =
      'Mr. Starbuck met Mrs. Hussey and Dr. Bunger at St. Paul’s, e.g. at noon, i.e. Sunday. ' +
      'He wrote to J. Smith of the U.S. Navy etc. The Capt. left. Then I. Then you.';
    expect(splitSentences(text)).toEqual([
      'Mr. Starbuck met Mrs. Hussey and Dr. Bunger at St. Paul’s, e.g. at noon, i.e. Sunday.',
      'He wrote to J. Smith of the U.S. Navy etc. The Capt. left.',
      'Then I.',
      'Then you.',
    ]);
  });

  it('joins the lines of a paragraph and ends a sentence at every blank line', () => {
    const text = 'Loomings\n\nCall me\nIshmael. Some years ago—never\n  mind how long\n\n \nA new paragraph';
    expect(splitSentences(text)).toEqual([
      'Loomings',
      'Call me Ishmael.',
      'Some years ago—never mind how long',
      'A new paragraph',
    ]);
  });

  it('splits before digits and opening quotes, and drops sentences without letters or digits', () => {
    expect(splitSentences('He counted. 12 boats came. "Hello." ‘Hi.’\n\n* * *\n\nEnd.')).toEqual([
      'He counted.',
      '12 boats came.',
      '"Hello."',
      '‘Hi.’',
      'End.',
    ]);
  });

  it('gives nothing for empty or punctuation-only text, and a sentence without an end whole', () => {
    expect(splitSentences('')).toEqual([]);
    expect(splitSentences('  \n\n — … \n')).toEqual([]);
    expect(splitSentences('no capital letters. no split here')).toEqual(['no capital letters. no split here']);
  });

  it('isAbbreviation: titles in any case, dotted forms, single capitals but not "I"', () => {
    for (const w of ['Mr', 'mrs', 'DR', '(St', '“Capt', 'etc', 'e.g', 'U.S', 'J']) expect(isAbbreviation(w)).toBe(true);
    for (const w of ['I', 'ship', 'a', 'Ahab', 'no']) expect(isAbbreviation(w)).toBe(false);
  });
});

describe('splitChapters', () => {
  it('starts a document at each chapter heading, dropping the heading; a preface is its own document', () => {
    const text = 'Preface text.\n\nCHAPTER 1. One\n\nFirst.\n\nChapter II\nSecond.\nCHAPTER 3. Three\n';
    expect(hasChapters(text)).toBe(true);
    expect(splitChapters(text)).toEqual(['Preface text.', 'First.', 'Second.']);
  });

  it('leaves a text without headings whole, and a heading mid-line or unnumbered is no heading', () => {
    const text = 'See the CHAPTER 2 remark.\nCHAPTERS of life\nChapter the last\n';
    expect(hasChapters(text)).toBe(false);
    expect(splitChapters(text)).toEqual([text.trim()]);
  });

  it('Moby-Dick (the default corpus) is 135 chapters of sentences', () => {
    const book = readFileSync(defaultCorpusPath(), 'utf8');
    const chapters = splitChapters(book);
    expect(chapters).toHaveLength(135);
    expect(splitSentences(chapters[0]!)[0]).toBe('Call me Ishmael.');
    expect(chapters.every((c) => !/^CHAPTER \d/m.test(c))).toBe(true);
  });
});
