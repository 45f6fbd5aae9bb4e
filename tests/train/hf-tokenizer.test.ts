// The exported Hugging Face tokenizer files, loaded by the `tokenizers` JS port
// (@huggingface/tokenizers): the same ids as this project's encoders on mixed text (emoji, CJK,
// whitespace runs, contractions, digits, `<|endoftext|>` as the special token between documents),
// and GPT-2's vocab.json / merges.txt rebuilt from js-tiktoken's ranks.
import { readFileSync } from 'node:fs';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { defaultCorpusPath } from '../../train/data/default-corpus.ts';
import { gpt2VocabMerges, hfTokenizerFiles } from '../../train/tokenizers/hf-export.ts';
import {
  CharTokenizer,
  FIM_MIDDLE,
  FIM_PREFIX,
  FIM_SUFFIX,
  Gpt2Tokenizer,
  encodeWithSpecials,
  trainBpe,
  withFimSentinels,
  type Tokenizer,
} from '../../train/tokenizers/index.ts';

const DOCS = [
  "Call me Ishmael. Some years ago—never mind how long precisely—I'd   thought I'll sail about.",
  'Emoji 🐳🐋 and flags 🇯🇵, CJK 白鯨記 クジラ 고래, accents naïve café, digits 1851 and 3.14159!',
  '  leading spaces,\ttabs\t\tand\n\n\nnewlines   \n  trailing    ',
  "it's they're we've I'm you'll he'd — “quotes” (brackets) <tags> $100 #1 @user",
];

/** Ours: documents encoded apart and joined by the end-of-text id; HF: one text with the marker. */
function compareIds(tok: Tokenizer): void {
  const files = hfTokenizerFiles(tok, 1024)!;
  const hf = new HfTokenizer(JSON.parse(files['tokenizer.json']!), JSON.parse(files['tokenizer_config.json']!));
  const ours: number[] = [];
  DOCS.forEach((d, i) => {
    if (i) ours.push(tok.eotId);
    ours.push(...tok.encode(d));
  });
  const theirs = hf.encode(DOCS.join('<|endoftext|>'), { add_special_tokens: false }).ids;
  expect(theirs).toEqual(ours);
  expect(hf.decode(theirs)).toBe(DOCS.join('<|endoftext|>'));
}

describe('Hugging Face tokenizer export', () => {
  it("this project's byte-level BPE: tokenizer.json gives the same ids", () => {
    const corpus = readFileSync(defaultCorpusPath(), 'utf8').slice(30_000, 90_000);
    const tok = trainBpe([corpus, ...DOCS, ...DOCS], { vocabSize: 600 });
    expect(tok.merges.length).toBeGreaterThan(300);
    compareIds(tok);
  });

  it('gpt2: tokenizer.json gives the same ids as js-tiktoken', () => {
    compareIds(new Gpt2Tokenizer());
  });

  it("gpt2: vocab.json and merges.txt are GPT-2's (known entries, 50,000 merges)", () => {
    const { vocab, merges } = gpt2VocabMerges();
    expect(Object.keys(vocab).length).toBe(50257);
    expect(merges.length).toBe(50000);
    // The first merges and a few ids of the published files.
    expect(merges.slice(0, 3)).toEqual(['Ġ t', 'Ġ a', 'h e']);
    expect(vocab['Ġthe']).toBe(262);
    expect(vocab['!']).toBe(0);
    expect(vocab['<|endoftext|>']).toBe(50256);
    const files = hfTokenizerFiles(new Gpt2Tokenizer(), 1024)!;
    expect(files['merges.txt']!.split('\n')[0]).toBe('#version: 0.2');
    expect(Object.keys(files).sort()).toEqual(['merges.txt', 'tokenizer.json', 'tokenizer_config.json', 'vocab.json']);
  });

  it.each([
    ['bpe', trainBpe(DOCS, { vocabSize: 300 })],
    ['gpt2', new Gpt2Tokenizer()],
  ] as const)('%s with the FIM sentinels: they are special added tokens with the same ids', (_, plain) => {
    const tok = withFimSentinels(plain);
    compareIds(tok);
    const files = hfTokenizerFiles(tok, 64)!;
    const hf = new HfTokenizer(JSON.parse(files['tokenizer.json']!), JSON.parse(files['tokenizer_config.json']!));
    const text = `${FIM_PREFIX}Call me${FIM_SUFFIX}. Some years${FIM_MIDDLE} Ishmael<|endoftext|>`;
    const all = [FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, '<|endoftext|>'];
    expect(hf.encode(text, { add_special_tokens: false }).ids).toEqual(encodeWithSpecials(tok, text, all));
    expect(JSON.parse(files['tokenizer_config.json']!).additional_special_tokens).toEqual([
      FIM_PREFIX,
      FIM_MIDDLE,
      FIM_SUFFIX,
    ]);
  });

  it('the char tokenizer has no Hugging Face form', () => {
    expect(hfTokenizerFiles(CharTokenizer.fromTexts(['abc']), 8)).toBeNull();
  });
});
