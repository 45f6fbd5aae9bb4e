// Reverse mode: walk the tape from a scalar back to the leaves, calling each op's backward once
// its output's gradient is complete (reverse topological order), summing gradients where a
// tensor fed several ops, and adding into `.grad` of leaves across backward calls.
import { accumulate } from '../kernels/elementwise.ts';
import { add } from './ops.ts';
import { empty, fmtShape, keep, noGrad, releaseNode, runtime, Tensor } from './tensor.ts';
import { stridedCopy } from '../kernels/copy.ts';

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    for (const inp of t.node?.inputs ?? []) if (inp.requiresGrad && !seen.has(inp)) stack.push([inp, false]);
  }
  return order; // inputs before the tensors made from them
}

function copyOf(g: Tensor): Tensor {
  const out = empty(g.shape);
  stridedCopy(runtime(), { out: out.ref(), inp: g.ref() }, { shape: [g.size], si: [1], so: [1] });
  return out;
}

/**
 * Backpropagates from `root`. Without `dout`, root must have one element (its gradient is 1).
 * Leaves that require grad get `.grad` (added to what is there); the tape is released.
 */
export function backward(root: Tensor, dout?: Tensor): void {
  root.storageFor('backward');
  if (!root.requiresGrad) {
    throw new Error(
      `backward: ${root.describe()} does not require grad (no input of the ops that made it requires grad, or it was made under noGrad)`,
    );
  }
  if (!dout && root.size !== 1) {
    throw new Error(
      `backward: ${root.describe()} is not a scalar; pass an output gradient of shape ${fmtShape(root.shape)}`,
    );
  }
  if (dout && (dout.size !== root.size || dout.dtype !== 'f32')) {
    throw new Error(`backward: output gradient ${dout.describe()} does not match ${root.describe()}`);
  }
  const rt = runtime();
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>();
  noGrad(() => {
    if (dout) grads.set(root, dout.view(root.shape));
    else {
      const one = empty(root.shape);
      rt.write(one.buffer, one.offset * 4, new Float32Array([1]));
      grads.set(root, one);
    }
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      const node = t.node;
      if (!node) {
        // A leaf: keep a gradient it owns alone (an op may have returned a view of another).
        if (t.grad) {
          accumulate(rt, { acc: t.grad.ref(), src: g.ref() }, { n: g.size });
          g.dispose();
        } else {
          const own = g.storage.refs === 1 && g.offset === 0 ? g : copyOf(g);
          if (own !== g) g.dispose();
          t.grad = keep(own.shape.length === t.shape.length ? own : own.view(t.shape));
          if (t.grad !== own) own.dispose();
        }
        continue;
      }
      const inGrads = node.backward(g);
      node.inputs.forEach((inp, k) => {
        const gi = inGrads[k];
        if (!gi) return;
        if (!inp.requiresGrad) {
          if (gi !== g) gi.dispose();
          return;
        }
        if (gi.size !== inp.size)
          throw new Error(`internal: ${node.op} backward gave ${gi.describe()} for input ${inp.describe()}`);
        // A gradient passed through unchanged (or as a view) shares storage with g: take a view
        // of its own so each map entry can be disposed independently.
        const mine = gi === g ? g.view(inp.shape) : gi;
        const prev = grads.get(inp);
        if (prev) {
          grads.set(inp, add(prev, mine.view(prev.shape)));
          prev.dispose();
          mine.dispose();
        } else grads.set(inp, mine);
      });
      g.dispose();
      releaseNode(t);
    }
  });
  for (const g of grads.values()) g.dispose();
}

/** Drops the gradients of the given parameters. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) p.zeroGrad();
}
