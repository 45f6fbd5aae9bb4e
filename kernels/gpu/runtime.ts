// The WebGPU runtime: one Dawn instance, one device, a buffer pool, a pipeline cache, and one
// command encoder that collects every dispatch until a readback or an explicit flush submits it.
//
// Why one encoder: on every adapter (and most of all on lavapipe) a submit costs far more than a
// dispatch, so a whole training step is recorded and submitted once. Why a uniform arena: each
// dispatch carries its sizes in one small uniform struct; writing them all with one writeBuffer
// per flush keeps the host cost per dispatch to a few array stores.
import { create, globals } from 'webgpu';
import { BufferPool } from './pool.ts';

Object.assign(globalThis, globals);

export type ScalarType = 'u32' | 'i32' | 'f32';
export type Access = 'read' | 'rw';

/** A kernel entry point as data: what it binds, which sizes it takes, which override constants. */
export interface KernelSpec {
  /** Label used in every error message and in the pipeline cache key. */
  readonly name: string;
  readonly wgsl: string;
  readonly entryPoint: string;
  /** Fields of the uniform struct at @binding(0), in declaration order, each 4 bytes. */
  readonly params: readonly (readonly [string, ScalarType])[];
  /** Storage buffers at @binding(1...) in order. */
  readonly bindings: readonly (readonly [string, Access])[];
  /** Default values of `override` constants; a dispatch may replace them. */
  readonly overrides?: Readonly<Record<string, number>>;
}

/** A buffer region a kernel may bind. Offsets must respect minStorageBufferOffsetAlignment. */
export interface BufferRef {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

export interface DispatchArgs {
  bindings: Record<string, GPUBuffer | BufferRef>;
  params?: Record<string, number>;
  overrides?: Record<string, number>;
  workgroups: readonly [number, number?, number?];
}

export interface RuntimeOptions {
  /** Extra Dawn instance flags, e.g. 'enable-dawn-features=allow_unsafe_apis'. */
  dawnFlags?: string[];
  /** Substring of the adapter name to force (Dawn's adapter= flag). Env: WEBGPU_GPT_ADAPTER. */
  adapter?: string;
  /** Force a backend: vulkan, metal, d3d12, d3d11, opengl, opengles, null. Env: WEBGPU_GPT_BACKEND. */
  backend?: string;
  powerPreference?: GPUPowerPreference;
  /** Wrap every dispatch in an error scope (slow, exact blame). Env: WEBGPU_GPT_DEBUG=1. */
  debug?: boolean;
}

export class WebGPUError extends Error {
  override name = 'WebGPUError';
}

const WANTED_FEATURES = ['shader-f16', 'subgroups', 'timestamp-query'] as const;

const NO_ADAPTER_HELP = `No WebGPU adapter was found.
Dawn needs a Vulkan driver on Linux (Metal on macOS, D3D12 on Windows).
  - With a GPU: install your vendor's Vulkan driver (NVIDIA: the proprietary driver with its Vulkan ICD;
    AMD/Intel: Mesa's mesa-vulkan-drivers) and the Vulkan loader (libvulkan1).
  - On a CPU-only Linux machine: install Mesa's lavapipe, version 25 or newer
    (Debian 12: bash scripts/install-vulkan-cpu.sh, which takes it from bookworm-backports).
Check with: npm run probe`;

let gpuInstance: GPU | null = null;
let current: Runtime | null = null;
let pending: Promise<Runtime> | null = null;

/** The process-wide runtime, created on first use. */
export function getRuntime(opts: RuntimeOptions = {}): Promise<Runtime> {
  if (current && !current.lost) return Promise.resolve(current);
  pending ??= Runtime.create(opts).then(
    (rt) => {
      current = rt;
      pending = null;
      return rt;
    },
    (err: unknown) => {
      pending = null;
      throw err;
    },
  );
  return pending;
}

/** Destroys the device and drops the Dawn instance so that Node can exit. */
export async function destroyRuntime(): Promise<void> {
  const rt = current ?? (pending ? await pending : null);
  current = null;
  rt?.destroy();
  gpuInstance = null;
}

function envFlagList(): string[] {
  return (process.env.WEBGPU_GPT_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
}

/** See Runtime.maxPendingDispatches. */
export const DEFAULT_MAX_PENDING = 4096;

/**
 * How the host waits for a readback. Dawn's Node bindings poll for a pending map with
 * setImmediate, which keeps the JS thread at 100% of a core until the GPU is done ('spin', the
 * default: the fastest on an idle machine — on lavapipe 2,150-2,600 tokens/s against 1,950 for
 * 'sleep' with the default job's model). 'sleep' first sleeps for most of the time such a read
 * took before, leaving the core to other processes on a shared machine (a training step's
 * readback uses it: `--gpuWait sleep`).
 */
export type WaitPolicy = 'spin' | 'sleep';

export interface ReadOptions {
  /** Default 'spin'. */
  wait?: WaitPolicy;
}

/**
 * The 'sleep' policy: the expected time from submit to readback, measured by an unslept wait
 * every 10th read (sleeping cannot then stretch its own estimate).
 */
class SleepPacer {
  private estMs = 0;
  private n = 0;

  /** Sleeps until shortly before the work submitted at `submittedAt` should be done; returns ms slept. */
  async wait(submittedAt: number): Promise<number> {
    if (this.n++ % 10 === 0 || this.estMs < 4) return 0;
    const ms = this.estMs * 0.85 - (performance.now() - submittedAt);
    if (ms < 2) return 0;
    await new Promise((r) => setTimeout(r, ms));
    return ms;
  }

  /** Records how long the work took from submit to readback (`totalMs`), of which `sleptMs` asleep. */
  observe(totalMs: number, sleptMs: number): void {
    if (sleptMs > 0) return;
    this.estMs = this.estMs === 0 ? totalMs : 0.5 * this.estMs + 0.5 * totalMs;
  }
}

export class Runtime {
  readonly pool: BufferPool;
  readonly features: ReadonlySet<string>;
  readonly info: GPUAdapterInfo;
  lost = false;
  /** Tests: fill every new tensor with NaN so that an element a kernel does not write fails. */
  poisonNewTensors = false;
  /** Dispatches recorded since the last submit. */
  pendingDispatches = 0;
  /**
   * Commands recorded into one command buffer before it is submitted on its own. A whole training
   * step normally fits in one, but a step of hundreds of micro-batches (GPT-2's 0.5M tokens per
   * step on a small model) records tens of thousands, and a command buffer that large crashed the
   * process with SIGSEGV inside the driver: on lavapipe (Mesa 25.0.7) a one-layer model ran 400
   * micro-batches a step (~27,000 dispatches) and died at 500 (~34,000). Submitting in chunks keeps
   * the order, so results are the same bits (tests/engine/runtime-chunks.test.ts); steps below the
   * cap (the mini model's step is ~120 dispatches) are untouched.
   */
  maxPendingDispatches = DEFAULT_MAX_PENDING;
  /** Totals since creation, for benches. */
  stats = { dispatches: 0, submits: 0, pipelines: 0 };

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly layouts = new Map<string, { bgl: GPUBindGroupLayout; pl: GPUPipelineLayout }>();
  private readonly errors: Error[] = [];
  /** Errors from error scopes (precise: they name the kernel); reported before uncaptured ones. */
  private readonly scopeErrors: { seq: number; err: Error }[] = [];
  private scopeSeq = 0;
  private readonly checks: Promise<void>[] = [];
  private readonly uniforms: UniformArena;
  private readonly debug: boolean;
  private lostReason: string | null = null;

  private constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    debug: boolean,
  ) {
    this.info = adapter.info;
    this.features = new Set([...device.features]);
    this.debug = debug;
    this.pool = new BufferPool(device);
    this.uniforms = new UniformArena(device, device.limits.minUniformBufferOffsetAlignment);
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.errors.push(new WebGPUError(`WebGPU ${ev.error.constructor.name}: ${ev.error.message}`));
    };
    void device.lost.then((info) => {
      this.lost = true;
      this.lostReason = `${info.reason}: ${info.message}`;
      if (current === this) current = null;
    });
  }

  static async create(opts: RuntimeOptions = {}): Promise<Runtime> {
    const flags = [...envFlagList(), ...(opts.dawnFlags ?? [])];
    const adapterName = opts.adapter ?? process.env.WEBGPU_GPT_ADAPTER;
    const backend = opts.backend ?? process.env.WEBGPU_GPT_BACKEND;
    if (adapterName) flags.push(`adapter=${adapterName}`);
    if (backend) flags.push(`backend=${backend}`);
    gpuInstance ??= create(flags);
    let adapter: GPUAdapter | null = null;
    let dawnSays = '';
    try {
      adapter = await gpuInstance.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
    } catch (e) {
      // Dawn rejects (rather than returning null) when a forced adapter or backend matches nothing.
      dawnSays = `\nDawn says: ${(e as Error).message.trim()}`;
    }
    if (!adapter) {
      gpuInstance = null;
      const forced = [adapterName && `adapter "${adapterName}"`, backend && `backend "${backend}"`].filter(Boolean);
      throw new WebGPUError(
        forced.length
          ? `No WebGPU adapter matches ${forced.join(' and ')}.${dawnSays}\n${NO_ADAPTER_HELP}`
          : NO_ADAPTER_HELP + dawnSays,
      );
    }
    const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
    const requiredLimits: Record<string, number> = {};
    const lim = adapter.limits as unknown as Record<string, number>;
    for (const key in adapter.limits) {
      const v = lim[key];
      if (typeof v === 'number') requiredLimits[key] = v;
    }
    const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'webgpu-gpt' });
    const debug = opts.debug ?? process.env.WEBGPU_GPT_DEBUG === '1';
    return new Runtime(adapter, device, debug);
  }

  /** One line naming the adapter, so nobody times a software adapter by mistake. */
  describe(): string {
    const i = this.info;
    const name = i.description || i.device || 'unknown device';
    return (
      `${name} [${i.vendor || '?'} ${i.architecture || ''}]`.replace(/\s+\]/, ']') +
      ` features: ${[...this.features].filter((f) => (WANTED_FEATURES as readonly string[]).includes(f)).join(', ') || 'none'}`
    );
  }

  get isSoftware(): boolean {
    const s = `${this.info.description} ${this.info.architecture} ${this.info.device}`.toLowerCase();
    return /llvmpipe|lavapipe|swiftshader|software/.test(s);
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  private assertAlive(): void {
    if (this.lost)
      throw new WebGPUError(
        `The WebGPU device was lost (${this.lostReason ?? 'unknown reason'}); create a new runtime.`,
      );
  }

  private layoutFor(spec: KernelSpec): { bgl: GPUBindGroupLayout; pl: GPUPipelineLayout } {
    const key = `${spec.params.length > 0 ? 'u' : ''}:${spec.bindings.map((b) => b[1]).join(',')}`;
    let l = this.layouts.get(key);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      if (spec.params.length > 0) {
        entries.push({ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
      }
      spec.bindings.forEach(([, access], i) => {
        entries.push({
          binding: i + 1,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: access === 'read' ? 'read-only-storage' : 'storage' },
        });
      });
      const bgl = this.device.createBindGroupLayout({ entries, label: key });
      const pl = this.device.createPipelineLayout({ bindGroupLayouts: [bgl] });
      l = { bgl, pl };
      this.layouts.set(key, l);
    }
    return l;
  }

  /** The compiled pipeline for a kernel and its override constants, cached by both. */
  pipeline(spec: KernelSpec, overrides?: Record<string, number>): GPUComputePipeline {
    const constants = { ...spec.overrides, ...overrides };
    const key = `${spec.name}|${spec.entryPoint}|${Object.keys(constants)
      .sort()
      .map((k) => `${k}=${constants[k]}`)
      .join(',')}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    this.assertAlive();
    let module = this.modules.get(spec.wgsl);
    if (!module) {
      this.device.pushErrorScope('validation');
      module = this.device.createShaderModule({ code: spec.wgsl, label: spec.name });
      const m = module;
      this.trackScope(`compiling WGSL of kernel "${spec.name}"`, async () => {
        const info = await m.getCompilationInfo();
        return info.messages
          .filter((msg) => msg.type === 'error')
          .map((msg) => `  line ${msg.lineNum}:${msg.linePos}: ${msg.message}`)
          .join('\n');
      });
      this.modules.set(spec.wgsl, module);
    }
    this.device.pushErrorScope('validation');
    p = this.device.createComputePipeline({
      label: spec.name,
      layout: this.layoutFor(spec).pl,
      compute: { module, entryPoint: spec.entryPoint, constants },
    });
    this.trackScope(`creating the pipeline of kernel "${spec.name}" (${key})`);
    this.pipelines.set(key, p);
    this.stats.pipelines++;
    return p;
  }

  private trackScope(what: string, extra?: () => Promise<string>): void {
    const scope = this.device.popErrorScope();
    const seq = this.scopeSeq++;
    this.checks.push(
      scope.then(async (err) => {
        const detail = extra ? await extra() : '';
        if (err || detail)
          this.scopeErrors.push({
            seq,
            err: new WebGPUError(`WebGPU error while ${what}: ${err?.message ?? ''}\n${detail}`.trimEnd()),
          });
      }),
    );
  }

  private commandEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder({ label: 'webgpu-gpt step' });
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) {
      const timestampWrites = this.nextTimestamps ?? undefined;
      this.nextTimestamps = null;
      this.pass = this.commandEncoder().beginComputePass(timestampWrites ? { timestampWrites } : {});
    }
    return this.pass;
  }

  private nextTimestamps: GPUComputePassTimestampWrites | null = null;

  /**
   * Ends the current compute pass; the next dispatches open a new one, which writes the given
   * timestamps (benches time a group of dispatches this way). Pass boundaries cost little.
   */
  splitPass(timestampWrites?: GPUComputePassTimestampWrites): void {
    this.endPass();
    this.nextTimestamps = timestampWrites ?? null;
  }

  /** Records a query-set resolve (for timestamp queries) in stream order. */
  resolveQueries(querySet: GPUQuerySet, first: number, count: number, dst: GPUBuffer, dstOffset = 0): void {
    this.endPass();
    this.commandEncoder().resolveQuerySet(querySet, first, count, dst, dstOffset);
    this.pendingDispatches++;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Records one dispatch of a kernel. Nothing runs until flush() or a readback. */
  dispatch(spec: KernelSpec, args: DispatchArgs): void {
    this.assertAlive();
    const pipeline = this.pipeline(spec, args.overrides);
    const { bgl } = this.layoutFor(spec);
    const entries: GPUBindGroupEntry[] = [];
    if (spec.params.length > 0) {
      entries.push({ binding: 0, resource: this.uniforms.push(spec, args.params ?? {}) });
    }
    spec.bindings.forEach(([bname], i) => {
      const b = args.bindings[bname];
      if (!b) throw new WebGPUError(`kernel "${spec.name}": binding "${bname}" was not given`);
      const ref: BufferRef = 'buffer' in b && !(b instanceof GPUBuffer) ? b : { buffer: b as GPUBuffer };
      entries.push({ binding: i + 1, resource: { buffer: ref.buffer, offset: ref.offset ?? 0, size: ref.size } });
    });
    const [x, y = 1, z = 1] = args.workgroups;
    const maxWg = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg || x < 0 || y < 0 || z < 0) {
      throw new WebGPUError(
        `kernel "${spec.name}": dispatch size (${x}, ${y}, ${z}) exceeds the adapter's ${maxWg} workgroups per dimension`,
      );
    }
    if (x === 0 || y === 0 || z === 0) return;
    if (this.debug) this.device.pushErrorScope('validation');
    const bindGroup = this.device.createBindGroup({ layout: bgl, entries, label: spec.name });
    const pass = this.computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (this.debug) this.trackScope(`recording a dispatch of kernel "${spec.name}"`);
    this.pendingDispatches++;
    this.stats.dispatches++;
    if (this.pendingDispatches >= this.maxPendingDispatches) this.flush();
  }

  /** Records a buffer-to-buffer copy in stream order with the dispatches. */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.pendingDispatches++;
  }

  /** Writes host data into a buffer, in stream order with already recorded dispatches. */
  write(dst: GPUBuffer, dstOffset: number, data: ArrayBufferView): void {
    this.assertAlive();
    const bytes = data.byteLength;
    if (bytes === 0) return;
    if (bytes % 4 !== 0) throw new WebGPUError(`write of ${bytes} bytes: sizes must be multiples of 4`);
    if (this.pendingDispatches === 0) {
      // Nothing recorded can still read the old contents: the queue write lands in order.
      this.device.queue.writeBuffer(dst, dstOffset, data.buffer, data.byteOffset, bytes);
      return;
    }
    // A queue write would land before the recorded (unsubmitted) commands: stage and copy instead.
    const staging = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
      label: 'upload',
    });
    new Uint8Array(staging.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, bytes));
    staging.unmap();
    this.copy(staging, 0, dst, dstOffset, bytes);
    this.stagingToDestroy.push(staging);
  }

  private stagingToDestroy: GPUBuffer[] = [];

  /** Submits everything recorded so far as one command buffer. */
  flush(): void {
    this.assertAlive();
    this.endPass();
    this.throwErrors();
    if (!this.encoder) return;
    this.uniforms.upload();
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.pendingDispatches = 0;
    this.stats.submits++;
    for (const s of this.stagingToDestroy) s.destroy(); // destroy() waits for the submitted copy
    this.stagingToDestroy = [];
  }

  private throwErrors(): void {
    this.scopeErrors.sort((a, b) => a.seq - b.seq);
    const err = this.scopeErrors.shift()?.err ?? this.errors.shift();
    if (err) {
      this.scopeErrors.length = 0;
      this.errors.length = 0;
      throw err;
    }
  }

  /**
   * While a promise of Dawn's is pending, its event polling keeps Node's main thread busy — on a
   * software adapter that thread competes with the driver's own worker threads for the cores.
   * So on a CPU adapter we sleep for most of the time the last readback took before we wait.
   */
  private latencyMs = 0;

  private async nap(expectMs?: number): Promise<void> {
    if (!this.isSoftware) return;
    const ms = expectMs !== undefined ? expectMs * 0.9 : this.latencyMs * 0.7;
    if (ms < 3) return;
    await new Promise((r) => setTimeout(r, ms));
  }

  private learnLatency(ms: number): void {
    this.latencyMs = this.latencyMs === 0 ? ms : 0.5 * this.latencyMs + 0.5 * ms;
  }

  private readonly pacer = new SleepPacer();

  /**
   * Waits for every submitted command and reports any WebGPU error seen so far. `expectMs`, when
   * the caller knows it, is how long the submitted work should take (a software adapter's wait
   * then sleeps through most of it instead of guessing from the last wait).
   */
  async sync(expectMs?: number): Promise<void> {
    this.flush();
    const t0 = performance.now();
    await this.nap(expectMs);
    await this.device.queue.onSubmittedWorkDone();
    if (expectMs === undefined) this.learnLatency(performance.now() - t0);
    await Promise.all(this.checks.splice(0));
    this.throwErrors();
    this.assertAlive();
  }

  /** Copies a buffer region to the host: the only way data comes back. */
  async read(src: GPUBuffer, offset: number, bytes: number, o: ReadOptions = {}): Promise<ArrayBuffer> {
    this.assertAlive();
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: 'readback',
    });
    this.copy(src, offset, staging, 0, size);
    this.flush();
    const t0 = performance.now();
    const slept = o.wait === 'sleep' ? await this.pacer.wait(t0) : 0;
    await this.nap();
    try {
      await staging.mapAsync(GPUMapMode.READ);
      this.learnLatency(performance.now() - t0);
      if (o.wait === 'sleep') this.pacer.observe(performance.now() - t0, slept);
    } catch (e) {
      await Promise.all(this.checks.splice(0));
      this.throwErrors();
      this.assertAlive();
      throw e;
    }
    const out = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    await Promise.all(this.checks.splice(0));
    this.throwErrors();
    return out;
  }

  destroy(): void {
    this.endPass();
    this.encoder = null;
    this.pool.clear();
    this.uniforms.destroy();
    this.device.destroy();
  }
}

/**
 * Uniform structs for all dispatches of one submission, packed into chunks at the uniform offset
 * alignment, and written with one writeBuffer per chunk right before the submit.
 */
class UniformArena {
  private static readonly CHUNK = 64 * 1024;
  private chunks: { buffer: GPUBuffer; data: ArrayBuffer }[] = [];
  private chunk = 0;
  private cursor = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly align: number,
  ) {}

  push(spec: KernelSpec, values: Record<string, number>): GPUBufferBinding {
    const size = Math.max(16, Math.ceil((spec.params.length * 4) / 16) * 16);
    const slot = Math.ceil(size / this.align) * this.align;
    if (this.cursor + slot > UniformArena.CHUNK) {
      this.chunk++;
      this.cursor = 0;
    }
    let c = this.chunks[this.chunk];
    if (!c) {
      c = {
        buffer: this.device.createBuffer({
          size: UniformArena.CHUNK,
          usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
          label: 'uniforms',
        }),
        data: new ArrayBuffer(UniformArena.CHUNK),
      };
      this.chunks.push(c);
    }
    const u32 = new Uint32Array(c.data, this.cursor, size / 4);
    const i32 = new Int32Array(c.data, this.cursor, size / 4);
    const f32 = new Float32Array(c.data, this.cursor, size / 4);
    spec.params.forEach(([name, type], i) => {
      const v = values[name];
      if (v === undefined || (!Number.isFinite(v) && type !== 'f32')) {
        throw new WebGPUError(`kernel "${spec.name}": parameter "${name}" is ${v}`);
      }
      if (type === 'f32') f32[i] = v;
      else if (type === 'i32') i32[i] = v;
      else {
        if (v < 0) throw new WebGPUError(`kernel "${spec.name}": parameter "${name}" must be >= 0, got ${v}`);
        u32[i] = v;
      }
    });
    const binding = { buffer: c.buffer, offset: this.cursor, size };
    this.cursor += slot;
    return binding;
  }

  upload(): void {
    for (let i = 0; i <= this.chunk && i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      const used = i < this.chunk ? UniformArena.CHUNK : this.cursor;
      if (used > 0) this.device.queue.writeBuffer(c.buffer, 0, c.data, 0, used);
    }
    this.chunk = 0;
    this.cursor = 0;
  }

  destroy(): void {
    for (const c of this.chunks) c.buffer.destroy();
    this.chunks = [];
  }
}

/** Workgroup counts for n independent items when x alone may exceed the per-dimension limit. */
export function grid(n: number, perWorkgroup: number, maxPerDim = 65535): [number, number] {
  const groups = Math.ceil(n / perWorkgroup);
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y];
}
