// matmul: the 1024³, then the shapes a GPT step runs (B·T = 512, C = 128, V = 50257):
// forward linears, the tied LM head (Bᵀ), their backward (dX = dY·Wᵀ, dW = Xᵀ·dY accumulated)
// and attention's batched Q·Kᵀ. Each case runs the configuration the adapter picks; --configs all
// adds every configuration this adapter can run for the 1024³ case.
import {
  matmul,
  MATMUL_CONFIGS,
  hasCpuSubgroups,
  pickConfig,
  vec4Eligible,
  type MatmulArgs,
} from '../kernels/matmul.ts';
import { geluForward, matmulForward } from '../kernels/reference.ts';
import { assertClose } from '../kernels/check.ts';
import { naiveMatmul } from './baselines/matmul-naive.ts';
import type { BenchCase, BenchContext, BenchModule } from './types.ts';

interface Shape {
  label: string;
  M: number;
  N: number;
  K: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  gelu?: boolean;
  accumulate?: boolean;
}

/** Cheap deterministic values in [-1, 1]. */
function values(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = (s / 4294967296) * 2 - 1;
  }
  return a;
}

/** Rows `rows` of op(A) (op = transpose when transA) for batch 0, as a [rows.length, K] matrix. */
function rowsOfA(a: Float32Array, s: Shape, rows: number[]): Float64Array {
  const sub = new Float64Array(rows.length * s.K);
  rows.forEach((m, i) => {
    for (let k = 0; k < s.K; k++) sub[i * s.K + k] = s.transA ? a[k * s.M + m]! : a[m * s.K + k]!;
  });
  return sub;
}

async function cases({ rt, quick, args }: BenchContext): Promise<BenchCase[]> {
  const B = 4,
    T = 128,
    C = Number(args.C ?? 128),
    V = Number(args.V ?? 50257),
    NH = 4;
  const sq = Number(args.M ?? (quick ? 256 : 1024));
  const shapes: Shape[] = [
    { label: 'square', M: sq, N: sq, K: sq },
    ...(quick
      ? []
      : [
          { label: 'qkv forward', M: B * T, N: 3 * C, K: C, bias: true },
          { label: 'fc forward + gelu', M: B * T, N: 4 * C, K: C, bias: true, gelu: true },
          { label: 'fc-proj forward', M: B * T, N: C, K: 4 * C, bias: true },
          { label: 'lm-head forward (Bᵀ)', M: B * T, N: V, K: C, transB: true },
          { label: 'fc dX = dY·Wᵀ', M: B * T, N: C, K: 4 * C, transB: true },
          { label: 'fc dW += Xᵀ·dY', M: C, N: 4 * C, K: B * T, transA: true, accumulate: true },
          { label: 'lm-head dX = dY·Wte', M: B * T, N: C, K: V },
          { label: 'lm-head dWte += dYᵀ·X', M: V, N: C, K: B * T, transA: true, accumulate: true },
          { label: 'attention Q·Kᵀ', M: T, N: T, K: C / NH, batch: B * NH, transB: true },
        ]),
  ];
  const usable = MATMUL_CONFIGS.filter((c) => c.kernel === 'tiled' || hasCpuSubgroups(rt));
  const list: BenchCase[] = [];
  for (const s of shapes) {
    const batch = s.batch ?? 1;
    const { M, N, K } = s;
    const A = values(batch * M * K, 1);
    const Bv = values(batch * K * N, 2);
    const bias = values(N, 3);
    const init = values(batch * M * N, 4);
    const buf = (data: Float32Array) => {
      const g = rt.pool.acquire(data.byteLength, 'bench');
      rt.write(g, 0, data);
      return g;
    };
    const ga = buf(A),
      gb = buf(Bv),
      gbias = buf(bias),
      out = buf(init);
    const pre = s.gelu ? rt.pool.acquire(init.byteLength, 'bench') : undefined;
    const configs = s.label === 'square' && args.configs === 'all' ? usable : [pickConfig(rt, M, N, batch)];
    let live = configs.length;
    const dispose = () => {
      if (--live === 0) for (const g of [ga, gb, gbias, out, ...(pre ? [pre] : [])]) rt.pool.release(g);
    };
    const flops = 2 * batch * M * N * K;
    const path = vec4Eligible(M, N, K, s.transA, s.transB) ? 'vec4' : 'scalar';
    for (const cfg of configs) {
      const margs: MatmulArgs = {
        out,
        a: ga,
        b: gb,
        bias: s.bias ? gbias : undefined,
        preact: pre,
        batch,
        M,
        N,
        K,
        transA: s.transA,
        transB: s.transB,
        gelu: s.gelu,
        accumulate: s.accumulate,
        config: { name: cfg.name },
      };
      list.push({
        kernel: 'matmul',
        variant: `${s.label} ${cfg.name} ${path}`,
        shape: { batch, M, N, K },
        flops,
        run: () => matmul(rt, margs),
        // One invocation per output element; skipped where it would take seconds per run.
        naive: rt.isSoftware && flops > 4e8 ? undefined : () => naiveMatmul(rt, { out, a: ga, b: gb }, s),
        async validate() {
          // Against the float64 reference on up to 64 rows of the first matrix (all of them when
          // small): the full reference of the LM head would take the CPU minutes.
          rt.write(out, 0, init);
          matmul(rt, margs);
          const rows =
            M <= 64 ? [...Array(M).keys()] : Array.from({ length: 64 }, (_, i) => Math.floor((i * (M - 1)) / 63));
          const got = new Float32Array(await rt.read(out, 0, M * N * 4));
          const gotRows = new Float32Array(rows.length * N);
          rows.forEach((m, i) => gotRows.set(got.subarray(m * N, (m + 1) * N), i * N));
          const b0 = Float64Array.from(Bv.subarray(0, K * N));
          const want = new Float64Array(rows.length * N);
          matmulForward(
            want,
            rowsOfA(A, s, rows),
            b0,
            s.bias ? Float64Array.from(bias) : null,
            1,
            rows.length,
            N,
            K,
            false,
            !!s.transB,
          );
          if (s.gelu) geluForward(want, Float64Array.from(want), want.length);
          if (s.accumulate)
            rows.forEach((m, i) => {
              for (let n = 0; n < N; n++) want[i * N + n]! += init[m * N + n]!;
            });
          // f32Reduce covers sums of up to a few thousand terms; the LM head's dX sums 50257.
          assertClose(gotRows, want, s.gelu || K > 4096 ? 'f32Chain' : 'f32Reduce', `matmul ${s.label} ${cfg.name}`);
          rt.write(out, 0, init);
        },
        dispose,
      });
    }
  }
  return list;
}

export default { name: 'matmul', cases } satisfies BenchModule;
