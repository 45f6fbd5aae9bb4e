// Fine-tuning's data layer and baselines (no GPU): task records, tokenized examples, padded
// batches, splits, multi-task mixing, the demo's shipped data and the classification baselines.
export * from './records.ts';
export * from './examples.ts';
export * from './batches.ts';
export * from './splits.ts';
export * from './mixture.ts';
export * from './datasets.ts';
export * from './baselines.ts';
export * from './prepare.ts';
export { seededRng, type SeededRng } from './rng.ts';
