// The evaluation metrics: pure functions with no GPU and no model, each file giving its formulas
// and the reference implementation it reproduces.
export * from './perplexity.ts';
export * from './squad.ts';
export * from './classification.ts';
export * from './bleu.ts';
export * from './rouge.ts';
export { porterStem } from './porter.ts';
export { MetricInputError } from './text.ts';
