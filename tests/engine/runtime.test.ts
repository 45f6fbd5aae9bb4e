// The runtime: adapter report, buffer pool, recording and readback, and errors that name the kernel.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { KernelSpec } from '../../kernels/gpu/runtime.ts';
import { sizeClass } from '../../kernels/gpu/pool.ts';
import { useRuntime } from '../util/kernel.ts';

const rt = await useRuntime();

const fillSpec: KernelSpec = {
  name: 'test.fill',
  entryPoint: 'main',
  params: [
    ['n', 'u32'],
    ['v', 'f32'],
  ],
  bindings: [['out', 'rw']],
  overrides: { WG: 64 },
  wgsl: `struct P { n: u32, v: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
override WG: u32 = 64;
@compute @workgroup_size(WG) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { out[g.x] = out[g.x] + p.v; }
}`,
};

describe('runtime', () => {
  it('reports the adapter and the optional features it enabled', () => {
    expect(rt.describe()).toMatch(/features:/);
    expect(rt.info.vendor.length + rt.info.description.length).toBeGreaterThan(0);
    for (const f of rt.features) expect(rt.adapter.features.has(f)).toBe(true);
  });

  it('records many dispatches into one submission, with per-dispatch uniforms', async () => {
    const buf = rt.pool.acquire(4 * 100);
    rt.write(buf, 0, new Float32Array(100));
    const submits = rt.stats.submits;
    // 600 dispatches overflow one 64 KiB uniform chunk (256 B a slot): the arena must chain chunks.
    for (let i = 1; i <= 600; i++)
      rt.dispatch(fillSpec, { bindings: { out: buf }, params: { n: 100, v: i % 7 }, workgroups: [2] });
    const out = new Float32Array(await rt.read(buf, 0, 400));
    const expected = Array.from({ length: 600 }, (_, i) => (i + 1) % 7).reduce((a, b) => a + b, 0);
    expect(Array.from(out).every((x) => x === expected)).toBe(true);
    expect(rt.stats.submits - submits).toBe(1);
    rt.pool.release(buf);
  });

  it('a host write after recorded dispatches lands in stream order', async () => {
    const buf = rt.pool.acquire(16);
    rt.write(buf, 0, new Float32Array([1, 1, 1, 1]));
    rt.dispatch(fillSpec, { bindings: { out: buf }, params: { n: 4, v: 1 }, workgroups: [1] });
    rt.write(buf, 0, new Float32Array([10, 10, 10, 10])); // must not overtake the dispatch above
    rt.dispatch(fillSpec, { bindings: { out: buf }, params: { n: 4, v: 1 }, workgroups: [1] });
    expect(Array.from(new Float32Array(await rt.read(buf, 0, 16)))).toEqual([11, 11, 11, 11]);
    rt.pool.release(buf);
  });

  it('pools buffers by size class and counts bytes in use and the peak', () => {
    expect(sizeClass(1)).toBe(256);
    expect(sizeClass(1000)).toBe(1024);
    expect(sizeClass(1025)).toBe(1280);
    const before = rt.pool.bytesInUse;
    rt.pool.resetPeak();
    const a = rt.pool.acquire(1000);
    const b = rt.pool.acquire(3000);
    expect(rt.pool.bytesInUse - before).toBe(1024 + 3072);
    rt.pool.release(a);
    const c = rt.pool.acquire(900);
    expect(c).toBe(a); // same class, reused
    rt.pool.release(b);
    rt.pool.release(c);
    expect(rt.pool.bytesInUse).toBe(before);
    expect(rt.pool.peakBytesInUse - before).toBe(1024 + 3072);
  });

  it('a WGSL error names the kernel and the line', async () => {
    const broken: KernelSpec = { ...fillSpec, name: 'test.broken', wgsl: fillSpec.wgsl.replace('p.v;', 'p.w;') };
    const buf = rt.pool.acquire(16);
    rt.dispatch(broken, { bindings: { out: buf }, params: { n: 4, v: 1 }, workgroups: [1] });
    await expect(rt.sync()).rejects.toThrow(/kernel "test.broken"[\s\S]*line \d+:\d+/);
    rt.pool.release(buf);
    await rt.sync(); // the runtime stays usable
  });

  it('rejects a missing binding, a missing parameter and an oversized dispatch', () => {
    const buf = rt.pool.acquire(16);
    expect(() => rt.dispatch(fillSpec, { bindings: {}, params: { n: 4, v: 1 }, workgroups: [1] })).toThrow(
      /kernel "test.fill": binding "out" was not given/,
    );
    expect(() => rt.dispatch(fillSpec, { bindings: { out: buf }, params: { n: 4 }, workgroups: [1] })).toThrow(
      /parameter "v"/,
    );
    expect(() => rt.dispatch(fillSpec, { bindings: { out: buf }, params: { n: 4, v: 1 }, workgroups: [1e6] })).toThrow(
      /exceeds the adapter's \d+ workgroups per dimension/,
    );
    rt.pool.release(buf);
  });

  it('without an adapter, says what is missing and how to install a driver', () => {
    const script = `import { getRuntime } from './kernels/gpu/runtime.ts';
try { await getRuntime({ adapter: 'no-such-adapter-xyz' }); console.log('UNEXPECTED'); } catch (e) { console.log(e.message); }`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' },
    });
    expect(out).toMatch(/No WebGPU adapter matches adapter "no-such-adapter-xyz"/);
    expect(out).toMatch(/lavapipe/);
  });

  it('device loss gives a clear error, and destroyRuntime lets the process exit', () => {
    const script = `import { getRuntime, destroyRuntime } from './kernels/gpu/runtime.ts';
const rt = await getRuntime();
const buf = rt.pool.acquire(16);
rt.device.destroy();
await new Promise((r) => setTimeout(r, 100));
try { await rt.read(buf, 0, 16); console.log('UNEXPECTED'); } catch (e) { console.log(e.message); }
await destroyRuntime();`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' },
    });
    expect(out).toMatch(/The WebGPU device was lost \(destroyed/);
  });
});
