// The tape's mechanics: fan-out, accumulation across backward calls, noGrad, detach, zeroGrad,
// release of intermediates, flat memory over many steps, and the errors a user can run into.
import { describe, expect, it } from 'vitest';
import * as E from '../../engine/index.ts';
import { assertClose } from '../../kernels/check.ts';
import { refOpNames, refOps, type RefOpTable } from '../../engine/reference.ts';

const rt = await E.initEngine();

describe('autograd', () => {
  it('sums gradients over fan-out: d/dx (x·x + x) = 2x + 1', async () => {
    await E.tidy(async () => {
      const x = E.fromArray([1, -2, 3]);
      x.requiresGrad = true;
      E.backward(E.sum(E.add(E.mul(x, x), x)));
      assertClose(await x.grad!.data(), [3, -3, 7], 'f32', 'fan-out');
      x.dispose();
    });
  });

  it('accumulates .grad over repeated backward calls until zeroGrad', async () => {
    const w = E.fromArray([0.5, 2]).param('w');
    for (let i = 0; i < 3; i++) E.tidy(() => E.backward(E.sum(E.mulScalar(w, 2))));
    assertClose(await w.grad!.data(), [6, 6], 'f32', 'three backward calls');
    w.zeroGrad();
    expect(w.grad).toBeNull();
    E.tidy(() => E.backward(E.sum(w)));
    assertClose(await w.grad!.data(), [1, 1], 'f32', 'after zeroGrad');
    w.zeroGrad();
    w.dispose();
  });

  it('noGrad and detach cut the tape', async () => {
    await E.tidy(async () => {
      const x = E.fromArray([1, 2]);
      x.requiresGrad = true;
      const y = E.noGrad(() => E.mul(x, x));
      expect(y.requiresGrad).toBe(false);
      expect(y.node).toBeNull();
      const z = E.add(E.mul(E.detach(x), x), x); // d/dx = detach(x) + 1
      E.backward(E.sum(z));
      assertClose(await x.grad!.data(), [2, 3], 'f32', 'detach');
      x.zeroGrad();
    });
  });

  it('backward with an explicit output gradient, and the errors around it', async () => {
    await E.tidy(async () => {
      const x = E.fromArray([1, 2, 3]);
      x.requiresGrad = true;
      const y = E.mulScalar(x, 3);
      expect(() => E.backward(y)).toThrow(/not a scalar; pass an output gradient of shape \[3\]/);
      E.backward(y, E.fromArray([1, 0, -1]));
      assertClose(await x.grad!.data(), [3, 0, -3], 'f32', 'explicit dout');
      expect(() => E.backward(E.fromArray([1]))).toThrow(/does not require grad/);
      x.zeroGrad();
    });
  });

  it('releases the tape and what it saved after backward', async () => {
    const x = E.randn([4, 8], { seed: 3 }).param();
    const w = E.ones([8]).param();
    const b = E.zeros([8]).param();
    const before = rt.pool.bytesInUse;
    E.tidy(() => {
      const y = E.layernorm(x, w, b);
      expect(y.node?.saved.length).toBe(2); // mean and rstd
      const loss = E.sum(E.mul(y, y));
      E.backward(loss);
      expect(loss.node).toBeNull();
      expect(y.node).toBeNull();
    });
    for (const p of [x, w, b]) p.zeroGrad();
    expect(rt.pool.bytesInUse).toBe(before);
    for (const p of [x, w, b]) p.dispose();
  });

  it('keeps pool memory flat over 1,000 forward+backward iterations', async () => {
    const w1 = E.randn([8, 16], { seed: 1, std: 0.3 }).param();
    const b1 = E.zeros([16]).param();
    const w2 = E.randn([16, 1], { seed: 2, std: 0.3 }).param();
    const x = E.keep(E.randn([32, 8], { seed: 4 }));
    const y = E.keep(E.randn([32, 1], { seed: 5 }));
    const step = () =>
      E.tidy(() => {
        const h = E.relu(E.linear(x, w1, b1));
        const loss = E.mean(E.powScalar(E.sub(E.matmul(h, w2), y), 2));
        E.backward(loss);
        for (const p of [w1, b1, w2]) p.zeroGrad();
      });
    for (let i = 0; i < 10; i++) step();
    await rt.sync();
    const inUse = rt.pool.bytesInUse;
    const buffers = rt.pool.buffersInUse;
    for (let i = 0; i < 1000; i++) {
      step();
      if (i % 100 === 99) await rt.sync();
    }
    await rt.sync();
    expect(rt.pool.bytesInUse).toBe(inUse);
    expect(rt.pool.buffersInUse).toBe(buffers);
    for (const t of [w1, b1, w2, x, y]) t.dispose();
  });
});

describe('clear errors for bad input', () => {
  it('names the op and the shapes on a mismatch', () => {
    E.tidy(() => {
      expect(() => E.add(E.zeros([2, 3]), E.zeros([4, 3]))).toThrow(
        /add: shapes \[2, 3\] and \[4, 3\] cannot be broadcast/,
      );
      expect(() => E.matmul(E.zeros([2, 3]), E.zeros([4, 5]))).toThrow(
        /matmul: inner dimensions differ: f32\[2, 3\] · f32\[4, 5\]/,
      );
      expect(() => E.reshape(E.zeros([2, 3]), [4, 2])).toThrow(
        /reshape: cannot reshape f32\[2, 3\] \(6 elements\) to \[4, 2\]/,
      );
      expect(() => E.layernorm(E.zeros([2, 3]), E.zeros([4]), E.zeros([3]))).toThrow(/layernorm: weight f32\[4\]/);
      expect(() => E.sum(E.zeros([2, 3]), 2)).toThrow(/sum: axis 2 is out of range/);
    });
  });

  it('rejects the wrong dtype', () => {
    E.tidy(() => {
      const ids = E.fromArray(new Int32Array([0, 1]));
      expect(() => E.exp(ids)).toThrow(/exp: expected an f32 tensor, got i32\[2\]/);
      expect(() => E.embedding(E.zeros([4, 2]), E.zeros([2]))).toThrow(
        /embedding: expected an i32 or u32 index tensor/,
      );
      expect(() => E.fromArray([1.5], [1], 'i32')).toThrow(/not a valid i32/);
    });
  });

  it('refuses a disposed tensor', () => {
    const x = E.zeros([3]);
    x.name = 'activations';
    x.dispose();
    expect(() => E.exp(x)).toThrow(/exp: tensor "activations" f32\[3\] was disposed/);
  });

  it('the op table requires a backward for every op (a compile-time check)', () => {
    // @ts-expect-error — an op without backward does not satisfy OpDef.
    const bad: E.OpDef<readonly [E.Tensor], Record<string, never>> = { forward: ([x]: readonly [E.Tensor]) => x };
    expect(bad).toBeDefined();
    const noBackward = () =>
      // @ts-expect-error — nor does defineOp accept one.
      E.defineOp('neg', { check: (x: E.Tensor) => ({ inputs: [x] as const, attrs: {} }), forward: ([x]) => x });
    expect(noBackward).toBeDefined();
  });

  it('the GPU op table and the float64 reference have the same ops (a compile-time check)', () => {
    const swish = () =>
      E.defineOp(
        // @ts-expect-error — a GPU op whose name has no float64 reference in engine/reference.ts.
        'swish',
        {
          check: (x: E.Tensor) => ({ inputs: [x] as const, attrs: {} }),
          forward: ([x]: readonly [E.Tensor]) => x,
          backward: (g: E.Tensor) => [g],
        },
      );
    expect(swish).toBeDefined();
    const { gelu: _gelu, ...noGelu } = E.OPS;
    // @ts-expect-error — a table without gelu, which the reference has.
    const gpuTable: E.OpTable = noGelu;
    const { gelu: _refGelu, ...noRefGelu } = refOps;
    // @ts-expect-error — a reference table without gelu, which the GPU table has.
    const refTable: RefOpTable = noRefGelu;
    // @ts-expect-error — an entry under another op's name.
    const swapped: E.OpTable = { ...E.OPS, gelu: E.relu };
    expect([gpuTable, refTable, swapped, _gelu, _refGelu]).toBeDefined();
    // The same at run time: one entry per reference op, each under its own name.
    expect(Object.keys(E.OPS).sort()).toEqual([...refOpNames].sort());
    for (const [name, op] of Object.entries(E.OPS)) expect(op.opName).toBe(name);
  });
});
