// Tensors: a shape and a dtype over a pooled GPU buffer (its "storage"), plus the autograd fields.
//
// Storage is reference-counted so that views (reshape, a leading-axis slice) share it without a
// copy; the buffer returns to the pool when the last tensor over it is disposed. Every tensor is
// registered in the innermost open `tidy` scope, which disposes what the scope created and did not
// return — the way a training loop stays flat in memory without a dispose call per intermediate.
import { getRuntime, type BufferRef, type Runtime, type RuntimeOptions } from '../kernels/gpu/runtime.ts';
import { fill } from '../kernels/elementwise.ts';

export type DType = 'f32' | 'i32' | 'u32';
export type Shape = readonly number[];

let RT: Runtime | null = null;

/** Creates (or returns) the runtime the tensors live on. Call once before creating tensors. */
export async function initEngine(opts?: RuntimeOptions): Promise<Runtime> {
  RT = await getRuntime(opts);
  return RT;
}

export function runtime(): Runtime {
  if (!RT) throw new Error('The engine is not initialised: call `await initEngine()` before creating tensors.');
  return RT;
}

export class Storage {
  refs = 1;
  constructor(
    readonly rt: Runtime,
    readonly buffer: GPUBuffer,
    readonly bytes: number,
  ) {}

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0) this.rt.pool.release(this.buffer);
  }
}

/** What backward needs from the op that made a tensor. */
export interface TapeNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Tensors the op made for its backward (owned by the node, released with it). */
  readonly saved: Tensor[];
  backward(dout: Tensor): (Tensor | null)[];
}

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

function checkShape(shape: Shape, what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0)
      throw new Error(`${what}: invalid shape ${fmtShape(shape)} (dimensions must be integers >= 0)`);
  }
}

// ---- scopes --------------------------------------------------------------------------------

const scopes: Set<Tensor>[] = [];
let gradEnabled = true;
let nextId = 1;

function track(t: Tensor): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Removes a tensor from every open scope: it lives until disposed by hand. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(x: unknown, into: Set<Tensor>, depth = 0): void {
  if (depth > 4 || x === null || typeof x !== 'object') return;
  if (x instanceof Tensor) {
    into.add(x);
    return;
  }
  if (Array.isArray(x)) for (const v of x) collect(v, into, depth + 1);
  else if (Object.getPrototypeOf(x) === Object.prototype) for (const v of Object.values(x)) collect(v, into, depth + 1);
}

function closeScope(scope: Set<Tensor>, result: unknown): void {
  const i = scopes.lastIndexOf(scope);
  if (i >= 0) scopes.splice(i, 1);
  const kept = new Set<Tensor>();
  collect(result, kept);
  for (const t of scope) {
    if (kept.has(t)) scopes[scopes.length - 1]?.add(t);
    else t.dispose();
  }
}

/**
 * Runs fn and disposes every tensor it created except those it returns (in a value, an array or
 * a plain object), which move to the enclosing scope. An async fn is awaited first.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    closeScope(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v: unknown) => {
        closeScope(scope, v);
        return v;
      },
      (e: unknown) => {
        closeScope(scope, undefined);
        throw e;
      },
    ) as T;
  }
  closeScope(scope, result);
  return result;
}

/** Runs fn without recording the tape: no tensor made inside requires grad. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

// ---- the tensor ----------------------------------------------------------------------------

export class Tensor {
  readonly id = nextId++;
  readonly size: number;
  requiresGrad = false;
  /** Accumulated gradient (leaves only), kept out of every scope. */
  grad: Tensor | null = null;
  /** The op that made this tensor, while the tape holds it. */
  node: TapeNode | null = null;
  name: string | undefined;
  private _storage: Storage | null;

  /** Internal: ops make tensors; users call the creation functions. */
  constructor(
    storage: Storage,
    readonly shape: Shape,
    readonly dtype: DType = 'f32',
    /** Offset into the storage, in elements. */
    readonly offset = 0,
  ) {
    this._storage = storage;
    this.size = shapeSize(shape);
    track(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this._storage === null;
  }

  describe(): string {
    return `${this.name ? `"${this.name}" ` : ''}${this.dtype}${fmtShape(this.shape)}`;
  }

  /** The storage; throws a clear error if the tensor was disposed. */
  storageFor(op: string): Storage {
    if (!this._storage) throw new Error(`${op}: tensor ${this.describe()} was disposed and cannot be used`);
    return this._storage;
  }

  get storage(): Storage {
    return this.storageFor('use');
  }

  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }

  /** True when the view starts where a storage binding may start (minStorageBufferOffsetAlignment). */
  get bindable(): boolean {
    return (this.offset * 4) % this.storage.rt.limits.minStorageBufferOffsetAlignment === 0;
  }

  /** The buffer region of this tensor, for a kernel binding. */
  ref(op = 'bind'): BufferRef {
    const s = this.storageFor(op);
    return { buffer: s.buffer, offset: this.offset * 4, size: Math.max(4, this.size * 4) };
  }

  /** A new tensor over the same storage (no copy). */
  view(shape: Shape, offsetElements = this.offset): Tensor {
    return new Tensor(this.storageFor('view').retain(), shape, this.dtype, offsetElements);
  }

  dispose(): void {
    if (!this._storage) return;
    this._storage.release();
    this._storage = null;
    releaseNode(this);
    for (const s of scopes) s.delete(this);
  }

  /** Copies the tensor to the host. */
  async data(): Promise<Float32Array | Int32Array | Uint32Array> {
    const s = this.storageFor('data');
    const bytes = await s.rt.read(s.buffer, this.offset * 4, this.size * 4);
    if (this.dtype === 'i32') return new Int32Array(bytes);
    if (this.dtype === 'u32') return new Uint32Array(bytes);
    return new Float32Array(bytes);
  }

  async toArray(): Promise<number[]> {
    return Array.from(await this.data());
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item: tensor ${this.describe()} has ${this.size} elements, not 1`);
    return (await this.data())[0]!;
  }

  /** Marks a leaf as a parameter: it requires grad and outlives every scope. */
  param(name?: string): this {
    this.requiresGrad = true;
    if (name) this.name = name;
    keep(this);
    return this;
  }

  /** Drops the accumulated gradient. */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  toString(): string {
    return `Tensor(${this.describe()}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

export function releaseNode(t: Tensor): void {
  const node = t.node;
  if (!node) return;
  t.node = null;
  for (const s of node.saved) s.dispose();
  node.saved.length = 0;
}

/** A fresh tensor over a pooled buffer; contents undefined. */
export function empty(shape: Shape, dtype: DType = 'f32', label = 'tensor'): Tensor {
  checkShape(shape, 'empty');
  const rt = runtime();
  const bytes = Math.max(4, shapeSize(shape) * 4);
  const t = new Tensor(new Storage(rt, rt.pool.acquire(bytes, label), bytes), shape, dtype);
  if (rt.poisonNewTensors) fill(rt, { out: t.ref() }, { n: Math.max(1, t.size), value: NaN });
  return t;
}
