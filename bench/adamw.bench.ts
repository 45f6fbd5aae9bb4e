// The optimizer step over one flat parameter buffer: the global norm, the fused AdamW update,
// and both together (what a trainer runs per step). GPT-2 124M on a GPU; 10M on a software
// adapter (1M and 10M with --quick), or --n N.
import type { Runtime } from '../kernels/gpu/runtime.ts';
import { STORAGE_USAGE } from '../kernels/gpu/pool.ts';
import { adamw, globalNorm } from '../kernels/adamw.ts';
import { adamwStep } from '../kernels/reference.ts';
import { assertClose } from '../kernels/check.ts';
import { naiveAdamW, naiveGlobalNorm } from './baselines/adamw-naive.ts';
import type { BenchCase, BenchContext, BenchModule } from './types.ts';

const GPT2_PARAMS = 124_439_808;

/** A deterministic value in [-0.5, 0.5) for element i: data can be regenerated for any window. */
function val(i: number, seed: number): number {
  let h = Math.imul(i ^ Math.imul(seed, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return Math.fround((h >>> 0) / 4294967296 - 0.5);
}

function fill(rt: Runtime, buf: GPUBuffer, n: number, seed: number | null): void {
  const CH = 1 << 22;
  for (let start = 0; start < n; start += CH) {
    const len = Math.min(CH, n - start);
    const a = new Float32Array(len);
    if (seed !== null) for (let i = 0; i < len; i++) a[i] = val(start + i, seed);
    rt.write(buf, start * 4, a);
  }
}

async function cases({ rt, quick, args }: BenchContext): Promise<BenchCase[]> {
  const n = Number(args.n ?? (rt.isSoftware ? (quick ? 1_000_000 : 10_000_000) : quick ? 10_000_000 : GPT2_PARAMS));
  // GPT-2 keeps ~0.1M parameters (biases, layernorms) out of weight decay: they come last.
  const decayEnd = Math.max(0, n - 100_000);
  const shape = { n, decayEnd };
  const bytes = Math.ceil(n / 4) * 16;
  const bindable = bytes <= rt.limits.maxStorageBufferBindingSize;
  // Past the binding limit the kernels work in chunks; the pool only makes bindable buffers.
  const make = () =>
    bindable
      ? rt.pool.acquire(bytes, 'bench')
      : rt.device.createBuffer({ size: bytes, usage: STORAGE_USAGE(), label: 'bench' });
  const [params, grads, m, v] = [make(), make(), make(), make()];
  const norm = rt.pool.acquire(16, 'bench');
  fill(rt, params, n, 1);
  fill(rt, grads, n, 2);
  fill(rt, m, n, null);
  fill(rt, v, n, null);
  const b = { params, grads, m, v, norm };
  const hp = { lr: 6e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const opts = { n, decayEnd, ...hp, step: 10 };
  let live = 3;
  const dispose = () => {
    if (--live > 0) return;
    for (const x of [params, grads, m, v]) {
      if (bindable) rt.pool.release(x);
      else x.destroy();
    }
    rt.pool.release(norm);
  };

  let sumsq = 0;
  for (let i = 0; i < n; i++) sumsq += val(i, 2) ** 2;
  const gnorm = Math.sqrt(sumsq);

  /** One clipped step from fresh state, checked on three windows (start, decay boundary, end). */
  async function validateStep(withNorm: boolean): Promise<void> {
    fill(rt, params, n, 1);
    fill(rt, m, n, null);
    fill(rt, v, n, null);
    const maxNorm = withNorm ? 0.5 * gnorm : 0;
    if (withNorm) globalNorm(rt, { norm, grads }, { n });
    adamw(rt, b, { ...opts, step: 1, maxNorm });
    if (withNorm) {
      const got = new Float32Array(await rt.read(norm, 0, 8));
      assertClose(got, [sumsq, gnorm], 'f32Reduce', 'global norm');
    }
    const W = Math.min(n, 4096);
    const starts = [0, Math.max(0, Math.min(n - W, decayEnd - W / 2)), n - W];
    for (const s of starts) {
      const p64 = Float64Array.from({ length: W }, (_, i) => val(s + i, 1));
      const g64 = Float64Array.from({ length: W }, (_, i) => val(s + i, 2));
      const m64 = new Float64Array(W);
      const v64 = new Float64Array(W);
      const decay = Uint8Array.from({ length: W }, (_, i) => (s + i < decayEnd ? 1 : 0));
      const clip = withNorm ? Math.min(1, maxNorm / (gnorm + 1e-6)) : 1;
      adamwStep(p64, g64, m64, v64, decay, W, { ...hp, step: 1, gradScale: clip });
      const got = new Float32Array(await rt.read(params, s * 4, W * 4));
      assertClose(got, p64, 'f32Reduce', `params [${s}, ${s + W})`);
      const gotV = new Float32Array(await rt.read(v, s * 4, W * 4));
      assertClose(gotV, v64, 'f32Reduce', `v [${s}, ${s + W})`);
    }
  }

  return [
    {
      kernel: 'adamw',
      variant: 'global norm',
      shape,
      bytes: 4 * n,
      run: () => globalNorm(rt, { norm, grads }, { n }),
      naive: bindable ? () => naiveGlobalNorm(rt, { norm, grads }, { ...opts, maxNorm: 0 }) : undefined,
      async validate() {
        globalNorm(rt, { norm, grads }, { n });
        const got = new Float32Array(await rt.read(norm, 0, 8));
        assertClose(got, [sumsq, gnorm], 'f32Reduce', 'global norm');
      },
      dispose,
    },
    {
      kernel: 'adamw',
      variant: 'update (no clipping)',
      shape,
      bytes: 28 * n,
      run: () => adamw(rt, b, { ...opts, maxNorm: 0 }),
      naive: bindable ? () => naiveAdamW(rt, b, { ...opts, maxNorm: 0 }) : undefined,
      validate: () => validateStep(false),
      dispose,
    },
    {
      kernel: 'adamw',
      variant: 'step (norm + clipped update)',
      shape,
      bytes: 32 * n,
      run: () => {
        globalNorm(rt, { norm, grads }, { n });
        adamw(rt, b, { ...opts, maxNorm: 1 });
      },
      naive: bindable
        ? () => {
            naiveGlobalNorm(rt, { norm, grads }, { ...opts, maxNorm: 1 });
            naiveAdamW(rt, b, { ...opts, maxNorm: 1 });
          }
        : undefined,
      validate: () => validateStep(true),
      dispose,
    },
  ];
}

export default { name: 'adamw', cases } satisfies BenchModule;
