// The model package: config and presets, the flat parameter layout, the GPU model, AdamW,
// checkpoints, LoRA adapters, the KV cache and generation, and the float64 reference.
export * from './config.ts';
export * from './layout.ts';
export * from './params.ts';
export * from './gpt.ts';
export * from './optimizer.ts';
export * from './checkpoint.ts';
export * from './lora.ts';
export * from './lora-store.ts';
export * from './kv-cache.ts';
export * from './generate.ts';
export * from './generate-batch.ts';
export * as reference from './reference.ts';
export * from './train-step.ts';
