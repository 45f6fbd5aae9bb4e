// Scratch timer for matmul experiments (not part of the product; used to pick the configurations
// kept in kernels/matmul.wgsl). Each experiment is a WGSL file in bench/dev with bindings
// (params{M,N,K}, a[M,K], b[K,N], out[M,N]). Several experiments run interleaved in one process so
// that they share whatever else loads the machine:
//   M=1024 N=1024 K=1024 npx tsx bench/dev/matmul-exp.ts 'file.wgsl|entry|{"X":1}|tileN,tileM' ... [reps=5]
import { getRuntime, destroyRuntime, type KernelSpec } from '../../kernels/gpu/runtime.ts';
import { loadWGSL } from '../../kernels/gpu/wgsl.ts';
import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds used so far by each thread of this process (utime + stime), by thread id. */
function threadCpu(): Map<string, { name: string; s: number }> {
  const res = new Map<string, { name: string; s: number }>();
  for (const t of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      res.set(t, {
        name: readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim(),
        s: (Number(f[11]) + Number(f[12])) / 100,
      });
    } catch {
      /* thread ended */
    }
  }
  return res;
}
function mainCpu(): number {
  return threadCpu().get(String(process.pid))?.s ?? 0;
}
/** Driver CPU seconds: every thread except the main JS thread. */
function driverCpu(): number {
  let s = 0;
  for (const [tid, t] of threadCpu()) if (tid !== String(process.pid)) s += t.s;
  return s;
}

const argv = process.argv.slice(2);
const reps = Number(argv.find((x) => x.startsWith('reps='))?.slice(5) ?? '5');
const M = Number(process.env.M ?? 1024),
  N = Number(process.env.N ?? 1024),
  K = Number(process.env.K ?? 1024);
const rt = await getRuntime();

const A = new Float32Array(M * K).map(() => Math.random() * 2 - 1);
const B = new Float32Array(K * N).map(() => Math.random() * 2 - 1);
const a = rt.pool.acquire(A.byteLength),
  b = rt.pool.acquire(B.byteLength),
  out = rt.pool.acquire(M * N * 4);
rt.write(a, 0, A);
rt.write(b, 0, B);

const exps = argv
  .filter((x) => !x.startsWith('reps='))
  .map((x) => {
    const [file, entry, ovJson, rule] = x.split('|');
    const spec: KernelSpec = {
      name: `exp-${file}`,
      wgsl: loadWGSL(import.meta.url, file!),
      entryPoint: entry!,
      params: [
        ['M', 'u32'],
        ['N', 'u32'],
        ['K', 'u32'],
      ],
      bindings: [
        ['a', 'read'],
        ['b', 'read'],
        ['out', 'rw'],
      ],
    };
    const overrides = JSON.parse(ovJson || '{}') as Record<string, number>;
    const [tn, tm] = rule!.split(',').map(Number);
    const workgroups: [number, number] = [Math.ceil(N / tn!), Math.ceil(M / tm!)];
    return {
      label: `${file} ${entry} ${ovJson}`,
      run: () => rt.dispatch(spec, { bindings: { a, b, out }, params: { M, N, K }, overrides, workgroups }),
      times: [] as number[],
      cpu: [] as number[],
      main: [] as number[],
      err: '',
    };
  });

for (const e of exps) {
  rt.write(out, 0, new Float32Array(M * N).fill(NaN));
  e.run();
  const got = new Float32Array(await rt.read(out, 0, M * N * 4));
  let worst = 0;
  for (let s = 0; s < 2000; s++) {
    const m = s < 4 ? (s & 1) * (M - 1) : Math.floor(Math.random() * M);
    const n = s < 4 ? (s >> 1) * (N - 1) : Math.floor(Math.random() * N);
    let v = 0;
    for (let k = 0; k < K; k++) v += A[m * K + k]! * B[k * N + n]!;
    const d = Math.abs(got[m * N + n]! - v);
    if (!(d <= 1e-3 * (1 + Math.abs(v)))) {
      worst = Infinity;
      e.err = ` BAD at ${m},${n}: ${got[m * N + n]} vs ${v}`;
      break;
    }
    worst = Math.max(worst, d);
  }
  e.err ||= ` maxerr ${worst.toExponential(1)}`;
}
const inner = Math.max(1, Math.round(Number(process.env.FLOPS ?? 8e9) / (2 * M * N * K)));
for (let r = 0; r < reps; r++) {
  for (const e of exps) {
    const c0 = driverCpu(),
      m0 = mainCpu();
    const t0 = performance.now();
    for (let i = 0; i < inner; i++) e.run();
    // Sleeping before awaiting keeps Dawn's event polling (a busy main thread) off the two cores.
    if (process.env.NAP) {
      rt.flush();
      await new Promise((r) => setTimeout(r, Number(process.env.NAP) * inner));
    }
    await rt.sync();
    e.main.push(((mainCpu() - m0) * 1000) / inner);
    e.times.push((performance.now() - t0) / inner);
    e.cpu.push(((driverCpu() - c0) * 1000) / inner);
  }
}
if (process.env.THREADS)
  for (const [tid, t] of threadCpu()) if (t.s > 0.05) console.log('thread', tid, t.name, t.s.toFixed(2), 's');
const gf = (ms: number) => ((2 * M * N * K) / ms / 1e6).toFixed(2);
for (const e of exps) {
  const t = [...e.times].sort((x, y) => x - y);
  const med = t[Math.floor(t.length / 2)]!;
  const c = [...e.cpu].sort((x, y) => x - y);
  const cmed = c[Math.floor(c.length / 2)]!;
  // cpu: driver CPU time per run; "2-core equivalent" = flops / (cpu / 2), what an idle machine would give.
  console.log(
    `${M}x${N}x${K} ${e.label}: wall median ${med.toFixed(1)} ms ${gf(med)} GFLOP/s (best ${gf(t[0]!)}); cpu ${cmed.toFixed(0)} ms -> ${gf(cmed / 2)} GFLOP/s 2-core; main thread ${[...e.main].sort((x, y) => x - y)[Math.floor(e.main.length / 2)]!.toFixed(0)} ms${e.err}`,
  );
}
await destroyRuntime();
