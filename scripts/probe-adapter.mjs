// Prints the WebGPU adapter Dawn finds (exit 1 if none). Used by the driver installer and CI.
import { create, globals } from 'webgpu';
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
