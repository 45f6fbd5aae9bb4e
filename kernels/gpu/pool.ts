// Buffers by size class. A released buffer goes straight back on its class's free list: WebGPU
// runs a queue's commands in order, so a later dispatch that reuses it cannot overtake an earlier
// one that read it. (Host writes are the exception; Runtime.write handles them.) Buffers are only
// destroyed by clear(), after the device is done with them.

const MIN_BYTES = 256;

/** Rounds up to one of 2^k, 1.25·2^k, 1.5·2^k, 1.75·2^k: at most 25% waste, few classes. */
export function sizeClass(bytes: number): number {
  const b = Math.max(MIN_BYTES, bytes);
  const p = 2 ** Math.floor(Math.log2(b));
  if (p === b) return b;
  const quarter = p / 4;
  return p + Math.ceil((b - p) / quarter) * quarter;
}

export const STORAGE_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  /** Bytes handed out and not yet released (by size class). */
  bytesInUse = 0;
  peakBytesInUse = 0;
  /** Bytes of all buffers the pool has created and not destroyed. */
  bytesAllocated = 0;
  buffersInUse = 0;

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number, label = 'tensor'): GPUBuffer {
    const size = sizeClass(bytes);
    const max = this.device.limits.maxStorageBufferBindingSize;
    if (size > max && bytes <= max) {
      return this.track(this.create(bytes, label), bytes);
    }
    if (bytes > max) {
      throw new Error(`buffer of ${bytes} bytes exceeds the adapter's maxStorageBufferBindingSize (${max})`);
    }
    const list = this.free.get(size);
    const buf = list?.pop() ?? this.create(size, label);
    return this.track(buf, size);
  }

  private create(size: number, label: string): GPUBuffer {
    const buf = this.device.createBuffer({ size, usage: STORAGE_USAGE(), label });
    this.sizes.set(buf, size);
    this.bytesAllocated += size;
    return buf;
  }

  private track(buf: GPUBuffer, size: number): GPUBuffer {
    this.bytesInUse += size;
    this.buffersInUse++;
    if (this.bytesInUse > this.peakBytesInUse) this.peakBytesInUse = this.bytesInUse;
    return buf;
  }

  release(buf: GPUBuffer): void {
    const size = this.sizes.get(buf);
    if (size === undefined) throw new Error('release of a buffer the pool did not create');
    this.bytesInUse -= size;
    this.buffersInUse--;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
  }

  resetPeak(): void {
    this.peakBytesInUse = this.bytesInUse;
  }

  /** Destroys every free buffer. Call after the queue is idle. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.bytesAllocated -= this.sizes.get(b) ?? 0;
        b.destroy();
      }
    }
    this.free.clear();
  }

  clear(): void {
    this.trim();
  }
}
