// Token + position embedding, forward and deterministic backward, at GPT-2 sizes.
import { embeddingBackward, embeddingForward, type EmbeddingVariant } from '../kernels/embedding.ts';
import { encoderBackward, encoderForward } from '../kernels/reference.ts';
import { assertClose } from '../kernels/check.ts';
import { naiveEmbeddingBackward, naiveEmbeddingForward } from './baselines/embedding-naive.ts';
import type { BenchCase, BenchContext, BenchModule } from './types.ts';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

async function cases({ rt, quick, args }: BenchContext): Promise<BenchCase[]> {
  const B = Number(args.B ?? (quick ? 2 : 4));
  const T = Number(args.T ?? (quick ? 256 : 1024));
  const C = Number(args.C ?? 768);
  // GPT-2's vocabulary, or as much of it as one storage binding holds (128 MiB on lavapipe).
  const V = Number(
    args.V ?? (quick ? 8192 : Math.min(50257, Math.floor(rt.limits.maxStorageBufferBindingSize / (4 * C)))),
  );
  const BT = B * T;
  const shape = { B, T, C, V };

  // Zipf-like ids: small ids are frequent, as in tokenized text, so chains have realistic lengths.
  const u = lcg(7);
  const ids = Int32Array.from({ length: BT }, () => Math.min(V - 1, Math.floor(V * u() ** 3)));
  const unique = new Set(ids).size;
  const wte = Float32Array.from({ length: V * C }, () => u() - 0.5);
  const wpe = Float32Array.from({ length: T * C }, () => u() - 0.5);
  const g = Float32Array.from({ length: BT * C }, () => u() - 0.5);

  const inp = rt.pool.acquire(BT * 4, 'bench');
  const wteBuf = rt.pool.acquire(V * C * 4, 'bench');
  const wpeBuf = rt.pool.acquire(T * C * 4, 'bench');
  const out = rt.pool.acquire(BT * C * 4, 'bench');
  const dout = rt.pool.acquire(BT * C * 4, 'bench');
  const dwte = rt.pool.acquire(V * C * 4, 'bench');
  const dwpe = rt.pool.acquire(T * C * 4, 'bench');
  rt.write(inp, 0, ids);
  rt.write(wteBuf, 0, wte);
  rt.write(wpeBuf, 0, wpe);
  rt.write(dout, 0, g);
  const all = [inp, wteBuf, wpeBuf, out, dout, dwte, dwpe];
  let live = 0;
  const dispose = () => {
    if (--live === 0) for (const b of all) rt.pool.release(b);
  };

  // Minimum traffic: every distinct wte row once, wpe rows, ids, the output / dout once.
  const fwdBytes = 4 * (BT + unique * C + T * C + BT * C);
  const bwdBytes = 4 * (BT + BT * C + 2 * unique * C + 2 * T * C);
  const s = { B, T, C, V };

  const list: BenchCase[] = [];
  for (const variant of ['vec4', 'scalar'] as EmbeddingVariant[]) {
    live += 2;
    list.push({
      kernel: 'embedding',
      variant: `forward ${variant}`,
      shape,
      bytes: fwdBytes,
      run: () => embeddingForward(rt, { out, inp, wte: wteBuf, wpe: wpeBuf }, { ...s, variant }),
      naive: () => naiveEmbeddingForward(rt, { out, inp, wte: wteBuf, wpe: wpeBuf }, s),
      async validate() {
        embeddingForward(rt, { out, inp, wte: wteBuf, wpe: wpeBuf }, { ...s, variant });
        const got = new Float32Array(await rt.read(out, 0, BT * C * 4));
        const want = new Float64Array(BT * C);
        encoderForward(want, ids, Float64Array.from(wte), Float64Array.from(wpe), B, T, C);
        assertClose(got, want, 'f32', `embedding forward ${variant}`);
      },
      dispose,
    });
    list.push({
      kernel: 'embedding',
      variant: `backward ${variant}`,
      shape: { ...shape, unique },
      bytes: bwdBytes,
      run: () => embeddingBackward(rt, { dwte, dwpe, dout, inp }, { ...s, variant }),
      naive: () => naiveEmbeddingBackward(rt, { dwte, dwpe, dout, inp }, s),
      async validate() {
        rt.write(dwte, 0, new Float32Array(V * C));
        rt.write(dwpe, 0, new Float32Array(T * C));
        embeddingBackward(rt, { dwte, dwpe, dout, inp }, { ...s, variant });
        const gotWte = new Float32Array(await rt.read(dwte, 0, V * C * 4));
        const gotWpe = new Float32Array(await rt.read(dwpe, 0, T * C * 4));
        const wantWte = new Float64Array(V * C);
        const wantWpe = new Float64Array(T * C);
        encoderBackward(wantWte, wantWpe, Float64Array.from(g), ids, B, T, C);
        assertClose(gotWte, wantWte, 'f32Reduce', `embedding dwte ${variant}`);
        assertClose(gotWpe, wantWpe, 'f32Reduce', `embedding dwpe ${variant}`);
      },
      dispose,
    });
  }
  return list;
}

export default { name: 'embedding', cases } satisfies BenchModule;
