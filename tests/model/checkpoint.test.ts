// Checkpoint files on the host (no GPU): the safetensors encoding, the bit-exact round trip of
// weights and optimizer moments, atomic replacement, keep-last-K, and the errors and fallback for
// corrupt and truncated checkpoints.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  decodeSafetensors,
  encodeSafetensors,
  listCheckpoints,
  loadLatestCheckpoint,
  readCheckpoint,
  resolveCheckpoint,
  tensorsToParams,
  writeCheckpoint,
  type CheckpointData,
} from '../../model/checkpoint.ts';
import { resolveConfig } from '../../model/config.ts';
import { initParams, paramLayout } from '../../model/layout.ts';
import { ADAMW_DEFAULTS } from '../../model/optimizer.ts';
import { Rng } from '../../engine/random.ts';

const cfg = resolveConfig({ preset: 'tiny' });
const layout = paramLayout(cfg);

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return (
    a.length === b.length &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  );
}

function sample(step: number): CheckpointData {
  const rng = new Rng(step);
  const params = initParams(layout, step);
  // Values that a lossy path would change: subnormals, -0, large exponents.
  params[1] = -0;
  params[2] = 1e-40;
  params[3] = 3.4e38;
  const m = Float32Array.from({ length: layout.total }, () => rng.normal() * 1e-3);
  const v = Float32Array.from({ length: layout.total }, () => rng.uniform() * 1e-6);
  return {
    meta: {
      step,
      config: cfg,
      tokenizer: { type: 'char', id: 'char-abc' },
      rng: { state: 123, spare: null },
      data: { cursor: step * 7 },
      extra: { lr: 1e-3 },
    },
    params,
    optimizer: { step, config: ADAMW_DEFAULTS, m, v },
  };
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-test-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('safetensors', () => {
  it('writes the documented format: u64 LE header length, JSON header, raw F32 data', () => {
    const a = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const b = Float32Array.from([-1.5]);
    const buf = encodeSafetensors(
      [
        { name: 'a', shape: [2, 3], data: a },
        { name: 'b', shape: [1], data: b },
      ],
      { format: 'pt' },
    );
    const n = Number(Buffer.from(buf).readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const header = JSON.parse(Buffer.from(buf.subarray(8, 8 + n)).toString('utf8'));
    expect(header).toEqual({
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      b: { dtype: 'F32', shape: [1], data_offsets: [24, 28] },
    });
    expect(Buffer.from(buf).readFloatLE(8 + n + 24)).toBe(-1.5);
    const back = decodeSafetensors(buf);
    expect(Array.from(back.tensors.get('a')!.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(back.tensors.get('a')!.shape).toEqual([2, 3]);
    expect(back.metadata).toEqual({ format: 'pt' });
  });

  it('rejects truncated and malformed files with clear errors', () => {
    const buf = encodeSafetensors([{ name: 'a', shape: [4], data: new Float32Array(4) }]);
    expect(() => decodeSafetensors(buf.subarray(0, 5))).toThrow(/truncated .*8-byte header length/);
    expect(() => decodeSafetensors(buf.subarray(0, 20))).toThrow(/truncated or corrupt \(header length/);
    expect(() => decodeSafetensors(buf.subarray(0, buf.length - 4))).toThrow(/truncated \(tensor a ends at byte 16/);
    const bad = Uint8Array.from(buf);
    bad[9] = 0x7b; // '{' inside the JSON
    bad[10] = 0x7b;
    expect(() => decodeSafetensors(bad)).toThrow(CheckpointError);
  });

  it('loads Hugging Face GPT-2 names: transformer. prefix, unpadded wte, mask buffers ignored', () => {
    const flat = initParams(layout, 3);
    const tensors = new Map<string, { dtype: string; shape: number[]; data: Float32Array }>();
    for (const e of layout.entries) {
      let data = flat.subarray(e.offset, e.offset + e.size);
      let shape = [...e.shape];
      if (e.name === 'wte.weight') {
        shape = [cfg.vocabSize, cfg.nEmbd];
        data = data.subarray(0, cfg.vocabSize * cfg.nEmbd);
      }
      tensors.set(`transformer.${e.name}`, { dtype: 'F32', shape, data });
    }
    tensors.set('transformer.h.0.attn.bias', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    tensors.set('lm_head.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    expect(sameBits(tensorsToParams(layout, tensors), flat)).toBe(true);
    tensors.set('h.0.bogus', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    expect(() => tensorsToParams(layout, tensors)).toThrow(/unexpected tensor "h.0.bogus"/);
    tensors.delete('h.0.bogus');
    tensors.delete('transformer.ln_f.bias');
    expect(() => tensorsToParams(layout, tensors)).toThrow(/tensor "ln_f.bias" is missing/);
  });
});

describe('checkpoints', () => {
  it('round-trips weights, optimizer moments and metadata bit-exactly', () => {
    const s = sample(100);
    const p = writeCheckpoint(dir, s);
    expect(path.basename(p)).toBe('ckpt-00000100');
    expect(fs.readdirSync(p).sort()).toEqual(['checkpoint.json', 'model.safetensors', 'optimizer.safetensors']);
    const c = readCheckpoint(p);
    expect(sameBits(c.params, s.params)).toBe(true);
    expect(sameBits(c.optimizer!.m, s.optimizer!.m)).toBe(true);
    expect(sameBits(c.optimizer!.v, s.optimizer!.v)).toBe(true);
    expect(c.optimizer!.step).toBe(100);
    expect(c.meta).toEqual({ ...s.meta });
    expect(c.sidecar.files['model.safetensors']!.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The model file is plain safetensors with GPT-2 names.
    const st = decodeSafetensors(fs.readFileSync(path.join(p, 'model.safetensors')));
    expect(st.tensors.get('h.1.attn.c_attn.weight')!.shape).toEqual([16, 48]);
    expect(st.tensors.get('wte.weight')!.shape).toEqual([64, 16]);
    // resolveCheckpoint accepts the run directory, the checkpoint directory and a file in it.
    expect(resolveCheckpoint(dir).path).toBe(p);
    expect(resolveCheckpoint(path.join(p, 'model.safetensors')).path).toBe(p);
  });

  it('keeps the last K, replaces a checkpoint of the same step, leaves no temporary files', () => {
    for (const step of [10, 20, 30, 40]) writeCheckpoint(dir, sample(step), { keep: 2 });
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([40, 30]);
    const again = sample(40);
    again.params[0] = 42;
    writeCheckpoint(dir, again, { keep: 2 });
    expect(readCheckpoint(path.join(dir, 'ckpt-00000040')).params[0]).toBe(42);
    expect(fs.readdirSync(dir).sort()).toEqual(['ckpt-00000030', 'ckpt-00000040']);
  });

  it('a truncated or corrupt checkpoint is a clear error, and the previous one is used', () => {
    writeCheckpoint(dir, sample(1), { keep: 5 });
    const p2 = writeCheckpoint(dir, sample(2), { keep: 5 });
    const model = path.join(p2, 'model.safetensors');
    const full = fs.readFileSync(model);
    // Truncated.
    fs.writeFileSync(model, full.subarray(0, full.length - 100));
    expect(() => readCheckpoint(p2)).toThrow(/model\.safetensors is truncated \(\d+ bytes, expected \d+\)/);
    let latest = loadLatestCheckpoint(dir);
    expect(latest.meta.step).toBe(1);
    expect(latest.skipped).toHaveLength(1);
    expect(latest.skipped[0]!.error).toMatch(/truncated/);
    // Same length, one flipped byte.
    const flipped = Buffer.from(full);
    flipped[full.length - 1]! ^= 0x40;
    fs.writeFileSync(model, flipped);
    expect(() => readCheckpoint(p2)).toThrow(/model\.safetensors is corrupt \(sha256/);
    expect(loadLatestCheckpoint(dir).meta.step).toBe(1);
    // Optimizer file missing; sidecar garbage.
    fs.writeFileSync(model, full);
    expect(readCheckpoint(p2).meta.step).toBe(2);
    fs.rmSync(path.join(p2, 'optimizer.safetensors'));
    expect(() => readCheckpoint(p2)).toThrow(/optimizer\.safetensors is missing/);
    fs.writeFileSync(path.join(p2, 'checkpoint.json'), '{"format": "webgpu-gpt-checkp');
    expect(() => readCheckpoint(p2)).toThrow(/checkpoint\.json is corrupt/);
    latest = loadLatestCheckpoint(dir);
    expect(latest.meta.step).toBe(1);
    // Nothing valid left.
    fs.writeFileSync(path.join(latest.path, 'model.safetensors'), 'x');
    expect(() => loadLatestCheckpoint(dir)).toThrow(
      /no valid checkpoint in .*\n.*checkpoint\.json is corrupt.*\n.*model\.safetensors is truncated/,
    );
    expect(() => loadLatestCheckpoint(path.join(dir, 'nothing'))).toThrow(/no checkpoints in/);
  });

  it('a checkpoint without optimizer state loads as weights only', () => {
    const s = sample(5);
    const p = writeCheckpoint(dir, { ...s, optimizer: null });
    const c = readCheckpoint(p);
    expect(c.optimizer).toBeNull();
    expect(sameBits(c.params, s.params)).toBe(true);
  });
});
