// `webgpu-gpt doctor`: the report's shape on whatever adapter runs the tests (lavapipe in CI), the
// text form naming each section, and a bad flag as a one-line error.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { doctorReport, formatReport } from '../../bench/doctor.ts';
import { getRuntime } from '../../kernels/gpu/runtime.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('doctor', () => {
  it('reports versions, adapter, features, limits, driver, cache, flags and a speed check', async () => {
    const rt = await getRuntime();
    const r = await doctorReport(rt, true);
    expect(r.versions.node).toBe(process.version);
    expect(r.versions.webgpuGpt).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.versions.webgpu).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.adapter.software).toBe(rt.isSoftware);
    expect(Object.keys(r.features).sort()).toEqual(['f16', 'subgroupMatrices', 'subgroups', 'timestamps']);
    expect(r.features.timestamps).toBe(rt.adapter.features.has('timestamp-query'));
    expect(r.limits.maxStorageBufferBindingSize).toBe(rt.limits.maxStorageBufferBindingSize);
    expect(r.limits.maxComputeWorkgroupStorageSize).toBeGreaterThan(0);
    expect(Array.isArray(r.dawnFlags)).toBe(true);
    expect(r.benchmark.copyGBps).toBeGreaterThan(0);
    expect(r.benchmark.fmaGFLOPs).toBeGreaterThan(0);
    expect(r.benchmark.matmulGFLOPs).toBeGreaterThan(0);
    expect(r.verdict).toMatch(rt.isSoftware ? /^software adapter/ : /^GPU adapter/);
    const text = formatReport(r);
    for (const label of ['adapter:', 'features:', 'limits:', 'driver:', 'shaders:', 'dawn:', 'speed:', 'verdict:'])
      expect(text).toContain(label);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it('refuses an unknown flag with one line and exit status 1', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'webgpu-gpt.mjs'), 'doctor', '--jsn'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: unknown option --jsn for doctor \(did you mean "json"\?\)/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
