// Prints the WebGPU adapter Dawn finds (exit 1 if none). Used by the driver installer and CI.
// Runs itself as a child whose stderr goes through the CLI's filter of Dawn's harmless warnings.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { create, globals } from 'webgpu';
import { HARMLESS } from '../bin/stderr-filter.mjs';

if (process.env.WEBGPU_GPT_PROBE_CHILD !== '1') {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, WEBGPU_GPT_PROBE_CHILD: '1' },
  });
  process.stderr.write(
    r.stderr
      .split(/(?<=\n)/)
      .filter((l) => !HARMLESS.test(l))
      .join(''),
  );
  process.exit(r.status ?? 1);
}
Object.assign(globalThis, globals);
const flags = (process.env.WEBGPU_GPT_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
const gpu = create(flags);
const adapter = await gpu.requestAdapter();
if (!adapter) {
  console.error('no WebGPU adapter found');
  process.exit(1);
}
const i = adapter.info;
console.log(
  `adapter: ${i.vendor} / ${i.architecture} / ${i.device} / ${i.description} (backend ${i.backendType ?? '?'}, type ${i.adapterType ?? '?'})`,
);
console.log(`features: ${[...adapter.features].sort().join(' ')}`);
process.exit(0);
