// Documents into sentences, for next-sentence prediction (nsp.ts). Pure functions, no I/O.
//
// The sentence rules (`splitSentences`):
// 1. Paragraphs: a blank line always ends a sentence, so a heading or a paragraph without final
//    punctuation is a sentence of its own. Inside a paragraph, newlines and runs of whitespace are
//    one space (hard-wrapped text such as Project Gutenberg's reads as running text).
// 2. A sentence ends after a run of terminal punctuation (. ! ? …, so "..." and "?!" are one run),
//    optionally followed by closing quotes or brackets (" ' ” ’ » ) ]), then whitespace, when the
//    next word starts a sentence: an uppercase letter, a digit, or an opening quote or bracket
//    (" ' “ ‘ « ( [). So `“Oh! he’s a good one,” said he.` stays one sentence, and text whose
//    sentences begin in lowercase is split only at paragraphs, while `“Mad?” I asked.` is split
//    after the quote (known limits of the heuristic).
// 3. A single "." does not end a sentence after an abbreviation: a title or common short form
//    (Mr. Mrs. Ms. Dr. St. Jr. Sr. Prof. Capt. Col. Gen. Lt. Sgt. Rev. Messrs. Esq. vs. etc. cf.
//    viz. and the like, any case), letters joined by dots (e.g. i.e. U.S. a.m.), or one uppercase
//    letter other than "I" (an initial, as in "J. Smith").
// 4. Sentences are trimmed; one without any letter or digit (a "* * *" divider) is dropped.
//
// The document rule for plain-text books (`splitChapters`): a line that starts with "CHAPTER" or
// "Chapter" and a number (arabic or roman) begins a new document and is not part of it; text before
// the first heading is a document of its own. Moby-Dick (the default corpus) has 135 such chapters.

const TERMINAL_RUN = /[.!?…]+["'”’»)\]]*\s+/gu;
const STARTS_SENTENCE = /^[\p{Lu}\p{Lt}\p{N}"'“‘«([]/u;
const ABBREVIATIONS = new Set(
  (
    'mr mrs ms mx dr st jr sr prof capt cap col gen lt sgt cmdr adm gov rev hon messrs mme mlle esq ' +
    'vs etc cf viz approx dept est fig vol ch sec ed inc ltd bros'
  ).split(' '),
);
const DOTTED = /^(?:\p{L}\.)+\p{L}$/u;
const LEADING_OPENERS = /^["'“‘«([]+/u;

/** True when the word before a single "." is an abbreviation, so the "." ends no sentence. */
export function isAbbreviation(word: string): boolean {
  const w = word.replace(LEADING_OPENERS, '');
  if (ABBREVIATIONS.has(w.toLowerCase())) return true;
  if (DOTTED.test(w)) return true;
  return /^\p{Lu}$/u.test(w) && w !== 'I';
}

/** Splits one paragraph (whitespace already collapsed) at the sentence ends of rules 2 and 3. */
function splitParagraph(par: string): string[] {
  const out: string[] = [];
  let start = 0;
  TERMINAL_RUN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = TERMINAL_RUN.exec(par)) !== null) {
    const end = m.index + m[0].length;
    if (end >= par.length || !STARTS_SENTENCE.test(par.slice(end, end + 1))) continue;
    if (m[0].trimEnd() === '.') {
      const before = par.slice(start, m.index);
      const word = before.slice(before.lastIndexOf(' ') + 1);
      if (isAbbreviation(word)) continue;
    }
    out.push(par.slice(start, end));
    start = end;
  }
  out.push(par.slice(start));
  return out;
}

/** The sentences of a document, in order (see the rules at the top of this file). */
export function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  for (const paragraph of text.split(/\n[ \t\f\v\r]*\n/)) {
    const par = paragraph.replace(/\s+/gu, ' ').trim();
    if (par === '') continue;
    for (const s of splitParagraph(par)) {
      const t = s.trim();
      if (/[\p{L}\p{N}]/u.test(t)) sentences.push(t);
    }
  }
  return sentences;
}

const CHAPTER_HEADING = /^(?:CHAPTER|Chapter)\s+(?:\d+|[IVXLCDM]+)\b.*$/gmu;

/** Splits a book at its chapter headings (the document rule above); a text without headings is
 *  returned whole. Documents are trimmed; empty ones are dropped. */
export function splitChapters(text: string): string[] {
  const docs: string[] = [];
  let start = 0;
  CHAPTER_HEADING.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = CHAPTER_HEADING.exec(text)) !== null) {
    docs.push(text.slice(start, m.index));
    start = m.index + m[0].length;
  }
  docs.push(text.slice(start));
  return docs.map((d) => d.trim()).filter((d) => d !== '');
}

/** True when `text` has at least two chapter headings (so `splitChapters` makes it several documents). */
export function hasChapters(text: string): boolean {
  return (text.match(CHAPTER_HEADING) ?? []).length >= 2;
}
