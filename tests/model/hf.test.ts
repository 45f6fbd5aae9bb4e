// Hugging Face GPT-2 checkpoints: a random GPT-2 written in GPT2LMHeadModel's layout by the test
// (F32, F16, BF16, without lm_head, without the transformer. prefix) imports to the same weights and
// the same logits as the float64 reference; export → import is bit-identical; every bad input is
// one clear error.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.ts';
import { assertClose } from '../../kernels/check.ts';
import { CheckpointError } from '../../model/checkpoint.ts';
import { GPT } from '../../model/gpt.ts';
import { hfConfigToGpt, readHfCheckpoint, writeHfModel, type HfCheckpoint } from '../../model/hf.ts';
import { refForward } from '../../model/reference.ts';
import { FIXTURE, hfConfigJson, writeHfFixture, type FixtureTensor } from './hf-fixture.ts';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-test-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
const fresh = (): string => path.join(tmp, `m${n++}`);

/** The flat f64 parameters the fixture means, placed by the test from the tensor names. */
function expectedParams(ck: HfCheckpoint, tensors: FixtureTensor[]): Float64Array {
  const flat = new Float64Array(ck.layout.total);
  for (const t of tensors) flat.set(t.data, ck.layout.byName.get(t.name)!.offset);
  return flat;
}

describe('import', () => {
  const variants = [
    { label: 'F32 with lm_head', opts: {} },
    { label: 'F16', opts: { dtype: 'F16' as const } },
    { label: 'BF16', opts: { dtype: 'BF16' as const } },
    { label: 'without lm_head.weight', opts: { lmHead: false } },
    { label: 'without the transformer. prefix', opts: { prefix: false } },
  ];
  for (const v of variants) {
    it(`${v.label}: the config maps, the weights land in place, padded rows stay zero`, () => {
      const dir = fresh();
      const tensors = writeHfFixture(dir, v.opts);
      const ck = readHfCheckpoint(dir);
      expect(ck.config).toMatchObject({
        vocabSize: 37,
        paddedVocabSize: 64,
        blockSize: 8,
        nLayer: 2,
        nHead: 2,
        nEmbd: 16,
      });
      expect(ck.dtypes).toEqual([v.opts.dtype ?? 'F32']);
      expect(Array.from(ck.params)).toEqual(Array.from(expectedParams(ck, tensors), (x) => x));
    });
  }

  it('every variant gives the float64 reference logits on the GPU', async () => {
    const rt = await E.initEngine();
    const B = 2;
    const T = FIXTURE.ctx;
    const rng = new E.Rng(3);
    const ids = Int32Array.from({ length: B * T }, () => rng.int(FIXTURE.vocab));
    for (const v of variants) {
      const dir = fresh();
      const tensors = writeHfFixture(dir, v.opts);
      const ck = readHfCheckpoint(dir);
      const ref = refForward(ck.layout, expectedParams(ck, tensors), ids, B, T);
      const model = GPT.fromParams(ck.config, ck.params).eval();
      const logits = await E.tidy(() =>
        E.noGrad(() => model.forward(E.fromArray(ids, [B, T], 'i32'), null).logits),
      ).data();
      assertClose(logits, ref.logits, 'f32Chain', `logits (${v.label})`);
      model.dispose();
    }
    await rt.sync();
  });
});

describe('export', () => {
  it('export → import is bit-identical, with GPT2LMHeadModel names and the un-padded vocabulary', () => {
    const src = readHfCheckpoint((writeHfFixture(fresh()), path.join(tmp, `m${n - 1}`)));
    const params = Float32Array.from(src.params);
    params[src.layout.byName.get('h.1.mlp.c_fc.bias')!.offset + 3] = 1e-40; // a subnormal survives
    const out = fresh();
    fs.mkdirSync(out);
    writeHfModel(out, src.config, params);
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      model_type: 'gpt2',
      vocab_size: 37,
      n_positions: 8,
      n_embd: 16,
      n_layer: 2,
      n_head: 2,
    });
    expect(cfg.architectures).toEqual(['GPT2LMHeadModel']);
    const buf = fs.readFileSync(path.join(out, 'model.safetensors'));
    const hlen = Number(buf.readBigUInt64LE(0));
    expect((8 + hlen) % 8).toBe(0);
    const header = JSON.parse(buf.subarray(8, 8 + hlen).toString('utf8'));
    expect(header.__metadata__).toEqual({ format: 'pt' });
    expect(header['transformer.wte.weight'].shape).toEqual([37, 16]);
    expect(header['transformer.h.0.attn.c_attn.weight'].shape).toEqual([16, 48]);
    expect(header['lm_head.weight']).toBeUndefined();
    const back = readHfCheckpoint(out);
    expect(Buffer.from(back.params.buffer).equals(Buffer.from(params.buffer))).toBe(true);
  });
});

describe('bad input: one clear error each', () => {
  const cases: { label: string; make: (dir: string) => void; error: RegExp }[] = [
    {
      label: 'no config.json',
      make: (d) => (writeHfFixture(d), fs.rmSync(path.join(d, 'config.json'))),
      error: /no config\.json/,
    },
    {
      label: 'model_type other than gpt2',
      make: (d) => writeHfFixture(d, { config: { model_type: 'llama' } }),
      error: /model_type is "llama"/,
    },
    {
      label: 'erf GELU',
      make: (d) => writeHfFixture(d, { config: { activation_function: 'gelu' } }),
      error: /activation_function "gelu" is not supported/,
    },
    {
      label: 'another epsilon',
      make: (d) => writeHfFixture(d, { config: { layer_norm_epsilon: 1e-6 } }),
      error: /layer_norm_epsilon 0\.000001 is not supported/,
    },
    {
      label: 'no weights',
      make: (d) => (writeHfFixture(d), fs.rmSync(path.join(d, 'model.safetensors'))),
      error: /no model\.safetensors/,
    },
    {
      label: 'malformed header',
      make: (d) => {
        writeHfFixture(d);
        const f = path.join(d, 'model.safetensors');
        const b = fs.readFileSync(f);
        b[8] = 0x78; // 'x' instead of the opening brace
        fs.writeFileSync(f, b);
      },
      error: /corrupt header/,
    },
    {
      label: 'truncated file',
      make: (d) => {
        writeHfFixture(d);
        const f = path.join(d, 'model.safetensors');
        const b = fs.readFileSync(f);
        fs.writeFileSync(f, b.subarray(0, b.length - 100));
      },
      error: /truncated/,
    },
    {
      label: 'header length past the end',
      make: (d) => {
        writeHfFixture(d);
        fs.writeFileSync(path.join(d, 'model.safetensors'), Buffer.from([255, 255, 0, 0, 0, 0, 0, 0, 123]));
      },
      error: /truncated or corrupt \(header length/,
    },
    {
      label: 'a tensor named twice',
      make: (d) => {
        writeHfFixture(d);
        const f = path.join(d, 'model.safetensors');
        const b = fs.readFileSync(f);
        const hlen = Number(b.readBigUInt64LE(0));
        const json = b
          .subarray(8, 8 + hlen)
          .toString('utf8')
          .replace('"transformer.wpe.weight"', '"transformer.wte.weight"');
        fs.writeFileSync(f, Buffer.concat([b.subarray(0, 8), Buffer.from(json), b.subarray(8 + hlen)]));
      },
      error: /transformer\.wte\.weight is named twice/,
    },
    {
      label: 'a shape not matching the config',
      make: (d) => writeHfFixture(d, { config: { n_embd: 32 } }),
      error: /has shape \[37, 16\], config\.json implies \[37, 32\]/,
    },
    {
      label: 'dtype I8',
      make: (d) => writeHfFixture(d, { dtype: 'I8' }),
      error: /dtype I8; this project reads F32, F16, BF16/,
    },
    {
      label: 'a missing tensor',
      make: (d) =>
        writeHfFixture(d, {
          edit: (ts) =>
            ts.splice(
              ts.findIndex((t) => t.name.endsWith('h.1.ln_2.bias')),
              1,
            ),
        }),
      error: /tensor "h\.1\.ln_2\.bias" is missing/,
    },
    {
      label: 'an untied lm_head',
      make: (d) => writeHfFixture(d, { lmHead: 'untied' }),
      error: /lm_head\.weight differs/,
    },
    {
      label: 'an unknown tensor',
      make: (d) =>
        writeHfFixture(d, {
          edit: (ts) => ts.push({ name: 'transformer.h.9.mlp.c_fc.bias', shape: [1], data: new Float32Array(1) }),
        }),
      error: /unexpected tensor "transformer\.h\.9\.mlp\.c_fc\.bias"/,
    },
  ];
  for (const c of cases) {
    it(c.label, () => {
      const dir = fresh();
      c.make(dir);
      let err: unknown;
      try {
        readHfCheckpoint(dir);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as Error).message).toMatch(c.error);
      expect((err as Error).message).not.toContain('\n');
    });
  }

  it('a config without model_type is refused (not guessed)', () => {
    const { model_type: _, ...rest } = hfConfigJson();
    expect(() => hfConfigToGpt(rest)).toThrow(/model_type is undefined/);
  });
});
