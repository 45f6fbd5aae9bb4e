// The train layer as a library: data preparation, tokenizers, pre-training, evaluation metrics,
// the configuration schema. (`webgpu-gpt/train`, and `train` in the package's front door.)
export { prepare } from './data/prepare.ts';
export { pretrain } from './pretrain.ts';
export * from './tokenizers/index.ts';
export * as metrics from './eval/index.ts';
export { parseConfig, TRAIN_SCHEMA, type TrainConfig } from './config.ts';
