// Fused softmax cross-entropy: a small vocabulary (N=512, V=256) and GPT-2's (N=8192, V=50304:
// logits of 1.6 GB, bound in row blocks of at most maxStorageBufferBindingSize). Forward (losses
// and their mean) and the training step's fused pass (plus dlogits).
import { crossEntropyForward, crossEntropyFused, crossEntropyTuning } from '../kernels/crossentropy.ts';
import { crossEntropyBackward as refBackward, crossEntropyForward as refForward } from '../kernels/reference.ts';
import { assertClose } from '../kernels/check.ts';
import { naiveCrossEntropy } from './baselines/crossentropy-naive.ts';
import type { BenchCase, BenchContext, BenchModule } from './types.ts';

/** Logit (n, j): a cheap hash in [-4, 4), so that any row can be regenerated for validation. */
function logit(n: number, j: number): number {
  let h = Math.imul(n, 0x9e3779b1) ^ Math.imul(j + 1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h ^= h >>> 13;
  return Math.fround(((h >>> 0) / 4294967296) * 8 - 4);
}

function target(n: number, V: number): number {
  return n % 17 === 5 ? -1 : (Math.imul(n + 7, 0x27d4eb2d) >>> 0) % V;
}

async function shapeCases(rt: BenchContext['rt'], N: number, V: number, Vp: number): Promise<BenchCase[]> {
  const bytes = N * Vp * 4;
  // Buffers past the pool's one-binding limit come straight from the device.
  const big = (label: string) =>
    rt.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label,
    });
  const logits = big('bench-logits');
  const dlogits = big('bench-dlogits');
  const rowsPerWrite = Math.max(1, Math.floor((32 << 20) / (Vp * 4)));
  for (let r0 = 0; r0 < N; r0 += rowsPerWrite) {
    const rows = Math.min(rowsPerWrite, N - r0);
    const chunk = new Float32Array(rows * Vp);
    for (let r = 0; r < rows; r++) for (let j = 0; j < Vp; j++) chunk[r * Vp + j] = j < V ? logit(r0 + r, j) : 0;
    rt.write(logits, r0 * Vp * 4, chunk);
  }
  const tg = new Int32Array(N).map((_, n) => target(n, V));
  const targets = rt.pool.acquire(N * 4, 'bench');
  rt.write(targets, 0, tg);
  const dloss = rt.pool.acquire(4, 'bench');
  rt.write(dloss, 0, new Float32Array([1]));
  const losses = rt.pool.acquire(N * 4, 'bench');
  const loss = rt.pool.acquire(4, 'bench');
  let live = 2;
  const dispose = () => {
    if (--live > 0) return;
    logits.destroy();
    dlogits.destroy();
    for (const b of [targets, dloss, losses, loss]) rt.pool.release(b);
  };

  // Validation on sampled rows (all rows when small): the float64 reference per row.
  const sample = N <= 1024 ? [...Array(N).keys()] : [0, 1, 5, 22, 1000, N - 1];
  const rowRef = (n: number) => {
    const x = new Float64Array(Vp);
    for (let j = 0; j < V; j++) x[j] = logit(n, j);
    const l = new Float64Array(1);
    refForward(l, x, Int32Array.of(tg[n]!), 1, V, Vp, -1);
    return { x, loss: l[0]! };
  };
  const count = tg.filter((t) => t !== -1).length;
  const checkLosses = async (what: string) => {
    const got = new Float32Array(await rt.read(losses, 0, N * 4));
    assertClose(
      sample.map((n) => got[n]!),
      sample.map((n) => rowRef(n).loss),
      'f32Reduce',
      `${what} losses`,
    );
    // The mean against the kernel's own per-row losses (the sampled ones are checked above).
    let total = 0;
    for (let n = 0; n < N; n++) if (tg[n] !== -1) total += got[n]!;
    assertClose(new Float32Array(await rt.read(loss, 0, 4)), [total / count], 'f32Reduce', `${what} mean loss`);
  };

  const t = crossEntropyTuning(rt, { N, V, Vp });
  const tag = `vec4 WG=${t.WG} VPT=${t.VPT} ${t.reduction}`;
  const shape = { N, V, Vp };
  const fwd = () => crossEntropyForward(rt, { losses, loss, logits, targets }, { N, V, Vp });
  const fused = () => crossEntropyFused(rt, { losses, loss, dlogits, logits, targets, dloss }, { N, V, Vp });
  const naiveBindings = { losses, loss, dlogits, logits, targets, dloss };
  return [
    {
      kernel: 'crossentropy',
      variant: `forward ${tag}`,
      shape,
      bytes: 4 * (N * Vp + 3 * N),
      run: fwd,
      naive: () => naiveCrossEntropy(rt, naiveBindings, N, V, Vp, false),
      async validate() {
        fwd();
        await checkLosses('crossentropy forward');
      },
      dispose,
    },
    {
      kernel: 'crossentropy',
      variant: `fused ${tag}`,
      shape,
      bytes: 4 * (2 * N * Vp + 3 * N),
      run: fused,
      naive: () => naiveCrossEntropy(rt, naiveBindings, N, V, Vp, true),
      async validate() {
        fused();
        await checkLosses('crossentropy fused');
        for (const n of sample.slice(0, 4)) {
          const want = new Float64Array(Vp);
          // refBackward scales by 1/count of its own rows: undo for one row, rescale to the batch's.
          const one = new Float64Array(Vp);
          refBackward(one, rowRef(n).x, Int32Array.of(tg[n]!), 1, V, Vp, -1, 1);
          for (let j = 0; j < Vp; j++) want[j] = one[j]! / count;
          const got = new Float32Array(await rt.read(dlogits, n * Vp * 4, Vp * 4));
          assertClose(got, want, 'f32Math', `crossentropy fused dlogits row ${n}`);
        }
      },
      dispose,
    },
  ];
}

async function cases({ rt, quick, args }: BenchContext): Promise<BenchCase[]> {
  if (args.N || args.V) {
    const V = Number(args.V ?? 50304);
    return shapeCases(rt, Number(args.N ?? 8192), V, Number(args.Vp ?? V));
  }
  const list = await shapeCases(rt, 512, 256, 256);
  if (!quick) list.push(...(await shapeCases(rt, 8192, 50304, 50304)));
  return list;
}

export default { name: 'crossentropy', cases } satisfies BenchModule;
