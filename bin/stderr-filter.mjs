// What bin/webgpu-gpt.mjs does to the CLI's stderr: drops the two warnings Dawn prints on lavapipe
// (maxDynamic…BuffersPerPipelineLayout "artificially reduced", harmless: this project binds no
// dynamic buffers) and passes everything else through unchanged and without delay.

export const HARMLESS = /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced\b/;

/**
 * Passes `src` to `dst` without the known-harmless Dawn warnings. Text is passed on as soon as it
 * arrives (progress bars redraw a line with \r and no \n); only the start of a line that may still
 * turn out to be one of the warnings is held back until its newline.
 */
export function filterStderr(src, dst) {
  const PREFIX = 'Warning: maxDynamic';
  let held = '';
  let midLine = false; // the current line was already passed on in part
  src.setEncoding('utf8');
  src.on('data', (chunk) => {
    let text = held + chunk;
    let out = '';
    held = '';
    while (text.length > 0) {
      const nl = text.indexOf('\n');
      const line = nl < 0 ? text : text.slice(0, nl + 1);
      text = nl < 0 ? '' : text.slice(nl + 1);
      if (midLine || (nl >= 0 && !HARMLESS.test(line))) out += line;
      else if (nl < 0 && (PREFIX.startsWith(line) || line.startsWith(PREFIX))) held = line;
      else if (nl < 0) out += line;
      midLine = nl < 0 && held === '';
    }
    if (out) dst.write(out);
  });
  src.on('end', () => {
    if (held && !HARMLESS.test(held)) dst.write(held);
  });
}
