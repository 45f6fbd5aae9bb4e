// This project's tokenizers in the Hugging Face formats, for models exported to transformers:
// `tokenizer.json` (the `tokenizers` library's format) for the byte-level BPEs, plus GPT-2's
// classic `vocab.json` + `merges.txt` for the gpt2 tokenizer, and a `tokenizer_config.json`.
//
// Both BPEs are GPT-2 style: ids 0..255 stand for bytes, every other id for the concatenation of
// a merge, merges apply lowest rank first. In Hugging Face's format a token is a string of the
// "byte-level" alphabet (each byte mapped to a printable character, GPT-2's bytes_to_unicode) and
// a merge is the pair of such strings, in rank order.
//
// One difference cannot be expressed: this project cuts pre-tokens longer than maxPieceLength
// (128 UTF-16 units) before merging; `tokenizers` does not. Only a single run of more than 128
// letters, digits, symbols or spaces can therefore tokenize differently.
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { BpeTokenizer } from './bpe.ts';
import { SpecialTokenizer } from './special.ts';
import { EOT_TEXT, type Tokenizer } from './types.ts';
import { GPT2_EOT_ID } from './gpt2.ts';

/** GPT-2's bytes_to_unicode: printable latin-1 bytes map to themselves, the others to U+0100.. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCodePoint(printable(b) ? b : 256 + n++));
  return out;
})();

const byteString = (bytes: Uint8Array): string => Array.from(bytes, (b) => BYTE_TO_CHAR[b]).join('');

export interface HfVocabMerges {
  /** token string → id (end-of-text included). */
  vocab: Record<string, number>;
  /** "left right" in rank order. */
  merges: string[];
}

/** GPT-2's token bytes by id, from the ranks js-tiktoken ships (ids equal OpenAI's and HF's). */
function gpt2TokenBytes(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const line of gpt2Ranks.bpe_ranks.split('\n')) {
    if (!line) continue;
    const [, offset, ...tokens] = line.split(' ');
    tokens.forEach((t, i) => (out[Number(offset) + i] = Buffer.from(t, 'base64')));
  }
  return out;
}

/**
 * The pair a GPT-2 token was merged from: byte-pair-encode its bytes with only the merges ranked
 * below it (tiktoken's ranks are merge priorities), which must leave exactly two parts.
 */
function splitToken(bytes: Uint8Array, rank: number, rankOf: Map<string, number>): [string, string] {
  let parts = Array.from(bytes, (b) => String.fromCharCode(b));
  for (;;) {
    let best = -1;
    let bestRank = rank;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = rankOf.get(parts[i]! + parts[i + 1]!);
      if (r !== undefined && r < bestRank) [best, bestRank] = [i, r];
    }
    if (best < 0) break;
    parts = [...parts.slice(0, best), parts[best]! + parts[best + 1]!, ...parts.slice(best + 2)];
  }
  if (parts.length !== 2) throw new Error(`gpt2: token ${rank} does not split into one merge (${parts.length} parts)`);
  return [parts[0]!, parts[1]!];
}

/** GPT-2's vocab.json and merges.txt, rebuilt from js-tiktoken's ranks. */
export function gpt2VocabMerges(): HfVocabMerges {
  const bytes = gpt2TokenBytes();
  const latin1 = bytes.map((b) => Buffer.from(b).toString('latin1'));
  const rankOf = new Map(latin1.map((s, i) => [s, i]));
  const vocab: Record<string, number> = {};
  const merges: string[] = [];
  const fromLatin1 = (s: string): string => byteString(Buffer.from(s, 'latin1'));
  bytes.forEach((b, id) => {
    vocab[byteString(b)] = id;
    if (b.length > 1) merges.push(splitToken(b, id, rankOf).map(fromLatin1).join(' '));
  });
  vocab[EOT_TEXT] = GPT2_EOT_ID;
  return { vocab, merges };
}

/** A BpeTokenizer's vocabulary and merges; refuses a vocabulary with two ids for the same bytes. */
export function bpeVocabMerges(tok: BpeTokenizer): HfVocabMerges {
  const vocab: Record<string, number> = {};
  for (let id = 0; id < tok.vocabSize; id++) {
    const s = id === tok.eotId ? EOT_TEXT : byteString(tok.bytesOf(id));
    if (s in vocab)
      throw new Error(`bpe: ids ${vocab[s]} and ${id} stand for the same bytes; tokenizer.json cannot represent that`);
    vocab[s] = id;
  }
  const merges = tok.merges.map(([a, b]) => `${byteString(tok.bytesOf(a))} ${byteString(tok.bytesOf(b))}`);
  return { vocab, merges };
}

const addedToken = (id: number, content: string): Record<string, unknown> => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: true,
  special: true,
});

/**
 * `tokenizer.json` for a byte-level BPE: the pre-tokenization regex as a Split (isolated pieces),
 * then the byte-level mapping; a BPE model that never shortcuts whole words (ignore_merges false,
 * as this project's encoder); the byte-level decoder; `<|endoftext|>` and the tokenizer's other
 * special tokens (the FIM sentinels: `specials[i]` is id `firstSpecial + i`) as special added tokens.
 */
export function hfTokenizerJson(
  vm: HfVocabMerges,
  pattern: string,
  eotId: number,
  specials: readonly string[] = [],
  firstSpecial = 0,
): Record<string, unknown> {
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: false };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [addedToken(eotId, EOT_TEXT), ...specials.map((s, i) => addedToken(firstSpecial + i, s))],
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: pattern }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', ...byteLevel },
      ],
    },
    post_processor: { type: 'ByteLevel', ...byteLevel },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vm.vocab,
      merges: vm.merges,
    },
  };
}

/**
 * The Hugging Face tokenizer files for `tok` (file name → contents), or null for a tokenizer that
 * has no Hugging Face equivalent (the char tokenizer).
 */
export function hfTokenizerFiles(tok: Tokenizer, modelMaxLength: number): Record<string, string> | null {
  const specials = tok instanceof SpecialTokenizer ? tok.specials : [];
  const base = tok instanceof SpecialTokenizer ? tok.base : tok;
  let vm: HfVocabMerges;
  let pattern: string;
  if (base.type === 'gpt2') [vm, pattern] = [gpt2VocabMerges(), gpt2Ranks.pat_str];
  else if (base instanceof BpeTokenizer) [vm, pattern] = [bpeVocabMerges(base), base.toJSON().pattern];
  else return null;
  specials.forEach((s, i) => (vm.vocab[s] = base.vocabSize + i));
  const config = {
    tokenizer_class: tok.type === 'gpt2' ? 'GPT2Tokenizer' : 'PreTrainedTokenizerFast',
    bos_token: EOT_TEXT,
    eos_token: EOT_TEXT,
    unk_token: EOT_TEXT,
    add_prefix_space: false,
    model_max_length: modelMaxLength,
    ...(specials.length ? { additional_special_tokens: [...specials] } : {}),
  };
  const files: Record<string, string> = {
    'tokenizer.json': JSON.stringify(hfTokenizerJson(vm, pattern, tok.eotId, specials, base.vocabSize)),
    'tokenizer_config.json': JSON.stringify(config, null, 2) + '\n',
  };
  if (tok.type === 'gpt2') {
    files['vocab.json'] = JSON.stringify(vm.vocab);
    files['merges.txt'] = ['#version: 0.2', ...vm.merges].join('\n') + '\n';
  }
  return files;
}
