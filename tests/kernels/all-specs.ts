// Every KernelSpec the kernels/*.ts modules export, for tests that check all of them (the
// bindings test): exported specs and records of specs,
// plus the specs the row kernels build on demand, for each entry point, variant and reduction.
import { readdirSync } from 'node:fs';
import type { KernelSpec } from '../../kernels/gpu/runtime.ts';
import { crossEntropySpec } from '../../kernels/crossentropy.ts';
import { layernormSpec } from '../../kernels/layernorm.ts';
import { softmaxSpec } from '../../kernels/softmax.ts';
import type { Reduction } from '../../kernels/rowreduce.ts';

function isSpec(x: unknown): x is KernelSpec {
  return typeof x === 'object' && x !== null && 'wgsl' in x && 'entryPoint' in x && 'bindings' in x;
}

function collect(x: unknown, out: Map<string, KernelSpec>, depth = 0): void {
  if (isSpec(x)) out.set(x.name, x);
  else if (typeof x === 'object' && x !== null && depth < 3)
    for (const v of Object.values(x)) collect(v, out, depth + 1);
}

const KERNELS = new URL('../../kernels/', import.meta.url);

export async function allSpecs(): Promise<KernelSpec[]> {
  const out = new Map<string, KernelSpec>();
  for (const file of readdirSync(KERNELS).filter((f) => f.endsWith('.ts')))
    collect(await import(new URL(file, KERNELS).href), out);
  const reductions: Reduction[] = ['workgroup', 'subgroup'];
  for (const r of reductions)
    for (const v of ['scalar', 'vec4'] as const) {
      for (const e of ['softmax_forward', 'softmax_backward'] as const) collect(softmaxSpec(e, v, r), out);
      for (const e of ['crossentropy_forward_backward', 'crossentropy_count', 'crossentropy_mean'] as const)
        collect(crossEntropySpec(e, v, r), out);
      for (const e of [
        'layernorm_forward',
        'layernorm_forward_cached',
        'layernorm_backward',
        'layernorm_backward_params',
      ] as const)
        collect(layernormSpec(e, v, r), out);
    }
  return [...out.values()];
}
