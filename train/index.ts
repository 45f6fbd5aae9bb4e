// The train layer as a library: data preparation, tokenizers, pre-training, fine-tuning,
// evaluation (metrics and whole-task runs), infilling, the configuration schema.
// (`webgpu-gpt/train`, and `train` in the package's front door.)
export { prepare } from './data/prepare.ts';
export { pretrain } from './pretrain.ts';
export { finetune, FINETUNE_TASKS, type FinetuneConfig, type FinetuneSummary } from './finetune/run.ts';
export { runEval, type EvalOptions } from './eval-task/run.ts';
export type { EvalRun } from './eval-task/compare.ts';
export { writeReport } from './eval-task/report.ts';
export { infill, scoreInfill, splitAtGap, GAP_MARKER, type InfillMode } from './infill.ts';
export * from './tokenizers/index.ts';
export * as metrics from './eval/index.ts';
export { parseConfig, TRAIN_SCHEMA, type TrainConfig } from './config.ts';
