// A 2-layer MLP trained with plain SGD on a synthetic regression task, through the engine alone:
// the smallest end-to-end proof that ops, autograd and memory management work together.
//   npx tsx examples/mlp.ts
import * as E from '../engine/index.ts';

export async function trainMlp(
  opts: { steps?: number; lr?: number; seed?: number; log?: (s: string) => void } = {},
): Promise<{ first: number; last: number }> {
  const steps = opts.steps ?? 300;
  const lr = opts.lr ?? 0.1;
  const rng = new E.Rng(opts.seed ?? 0);
  // Target: y = sin(2·x0) + 0.5·x1·x2 − x3², a smooth nonlinear function of 4 inputs.
  const N = 256;
  const X = new Float32Array(N * 4);
  const Y = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < 4; j++) X[i * 4 + j] = rng.uniform() * 2 - 1;
    const [a, b, c, d] = [X[i * 4]!, X[i * 4 + 1]!, X[i * 4 + 2]!, X[i * 4 + 3]!];
    Y[i] = Math.sin(2 * a) + 0.5 * b * c - d * d;
  }
  const x = E.keep(E.fromArray(X, [N, 4]));
  const y = E.keep(E.fromArray(Y, [N, 1]));
  const w1 = E.randn([4, 64], { seed: 1, std: 0.5 }).param('w1');
  const b1 = E.zeros([64]).param('b1');
  const w2 = E.randn([64, 1], { seed: 2, std: 0.1 }).param('w2');
  const b2 = E.zeros([1]).param('b2');
  const params = [w1, b1, w2, b2];
  let first = NaN;
  let last = NaN;
  for (let step = 0; step < steps; step++) {
    const loss = E.tidy(() => {
      const h = E.tanh(E.linear(x, w1, b1));
      const pred = E.linear(h, w2, b2);
      const l = E.mean(E.powScalar(E.sub(pred, y), 2));
      E.backward(l);
      // SGD: p ← p − lr·grad, in place and without recording the tape.
      E.noGrad(() => {
        for (const p of params) {
          E.assign(p, E.sub(p, E.mulScalar(p.grad!, lr)));
          p.zeroGrad();
        }
      });
      return l;
    });
    if (step === 0 || step === steps - 1 || step % 50 === 0) {
      const v = await loss.item();
      if (step === 0) first = v;
      last = v;
      opts.log?.(`step ${step}: loss ${v.toFixed(5)}`);
    }
    loss.dispose();
  }
  for (const t of [x, y, ...params]) t.dispose();
  return { first, last };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rt = await E.initEngine();
  console.log(`adapter: ${rt.describe()}`);
  const { first, last } = await trainMlp({ log: console.log });
  console.log(`loss ${first.toFixed(4)} → ${last.toFixed(4)} (${(first / last).toFixed(1)}x lower)`);
  await E.destroyRuntime();
}
