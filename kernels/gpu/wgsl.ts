import { readFileSync } from 'node:fs';

/** Reads a kernel's WGSL source that sits beside the module: `loadWGSL(import.meta.url, 'softmax.wgsl')`. */
export function loadWGSL(base: string, file: string): string {
  return readFileSync(new URL(file, base), 'utf8');
}
