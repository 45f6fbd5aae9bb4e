// Pure facts about what the kernels accept, for layers above that must check a configuration
// without loading any kernel (this module reads no files and imports nothing).

/** Head sizes the attention kernels accept: multiples of 4 up to 128 that are <= 32 or multiples of 32. */
export function attentionSupportsHS(HS: number): boolean {
  return Number.isInteger(HS) && HS >= 4 && HS <= 128 && HS % 4 === 0 && (HS <= 32 || HS % 32 === 0);
}
