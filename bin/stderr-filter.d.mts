import type { Readable } from 'node:stream';

export const HARMLESS: RegExp;
export function filterStderr(src: Readable, dst: { write(s: string): unknown }): void;
