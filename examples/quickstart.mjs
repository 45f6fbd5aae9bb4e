// The library in a minute: a tensor op with its gradient, then a tiny GPT trained for a few steps.
// It imports the installed package by name (`npm install webgpu-gpt`); tests/package.test.ts packs
// this repository, installs the tarball into an empty folder and runs this file there.
//   node quickstart.mjs
import { backward, destroyRuntime, fromArray, initEngine, model, mul, sum } from 'webgpu-gpt';

const rt = await initEngine();
console.log(`adapter: ${rt.describe()}`);

// d/dx sum(x·x) = 2x
const x = fromArray(new Float32Array([1, 2, 3]), [3]).param('x');
const y = sum(mul(x, x));
backward(y);
console.log(`sum(x·x) = ${await y.item()}, grad = [${await x.grad.toArray()}]`);

// A tiny GPT learns to repeat a pattern: ids 0 1 2 3 0 1 2 3 ...
const config = model.resolveConfig({ preset: 'tiny', vocabSize: 16, blockSize: 8 });
const gpt = model.GPT.create(config, { seed: 1 });
const opt = new model.AdamW(gpt.params, { weightDecay: 0 });
const B = 4;
const T = 8;
const ids = Int32Array.from({ length: B * T }, (_, i) => i % 4);
const tgt = Int32Array.from({ length: B * T }, (_, i) => (i + 1) % 4);
const losses = [];
for (let step = 0; step < 2; step++) {
  const micro = [{ ids: fromArray(ids, [B, T], 'i32'), targets: fromArray(tgt, [B, T], 'i32') }];
  const { loss } = await model.trainStep(gpt, opt, micro, { lr: 1e-2 });
  for (const m of micro) {
    m.ids.dispose();
    m.targets.dispose();
  }
  losses.push(loss);
  console.log(`step ${step + 1}: loss ${loss.toFixed(4)}`);
}
console.log(JSON.stringify({ grad: await x.grad.toArray(), losses }));
await destroyRuntime();
