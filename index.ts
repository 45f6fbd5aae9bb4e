// The package's front door: `import { GPT, tensor, ops, train } from 'webgpu-gpt'`.
// The layers are also subpaths of their own: 'webgpu-gpt/engine', '/kernels', '/model', '/train'.
export * from './engine/index.ts';
export { fromArray as tensor } from './engine/create.ts';
export * as ops from './engine/ops.ts';
export { GPT } from './model/gpt.ts';
export * as model from './model/index.ts';
export * as train from './train/index.ts';
