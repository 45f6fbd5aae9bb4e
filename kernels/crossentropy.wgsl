// Fused softmax cross-entropy: per-row losses, their mean, and dlogits, without a probability
// tensor ever reaching memory.
//
// Shapes: logits, dlogits: (N, Vp), row-major with row stride Vp >= V; columns V..Vp-1 are
// vocabulary padding (so that Vp suits the matmul) and take no part. targets: (N) i32, a column
// in [0, V) or `ignore`. losses: (N). loss, dloss, stats: 1 float each.
//   losses[n]  = logsumexp(logits[n, :V]) - logits[n, targets[n]]       (0 for an ignored row)
//   loss       = sum_n losses[n] / count, count = rows not ignored       (0 when count is 0)
//   dlogits[n, j] = dloss / count * (softmax(logits[n, :V])[j] - [j == targets[n]])   for j < V
//   dlogits[n, j] = 0 for j >= V and for ignored rows. dlogits is written, not accumulated.
// dloss is the upstream gradient of the mean loss, read from a GPU buffer (the trainer sets 1)
// and count comes from crossentropy_count: nothing is read back to the host.
//
// Entry points (bindings after @binding(0) Params):
//   crossentropy_count:       1 stats (rw)          stats[0] = count, as f32
//   crossentropy_forward_backward_scalar / _vec4:
//                             1 losses (rw), 2 dlogits (rw), 3 logits, 4 targets, 5 dloss, 6 stats
//                             override LOSS writes losses, GRAD writes dlogits (the training step
//                             sets both: one pass over the logits for the statistics, one for
//                             dlogits)
//   crossentropy_mean:        1 loss (rw), 2 losses, 3 targets   loss[0] = the mean over kept rows
// (crossentropy_count binds targets at 2 and crossentropy_mean its losses at 2: each entry point
// has its own layout.) `_vec4` moves vec4s and needs Vp % 4 == 0; `_scalar` takes any Vp.
//
// Dispatch: crossentropy_forward_backward: one workgroup of WG invocations per row, as in
// softmax.wgsl (whose comments explain the register cache of VPT chunks per invocation and the
// online-softmax streaming of the rest): pass 1 finds the row's max and sum of exps, pass 2
// writes the gradient, recomputing the exps of streamed chunks. crossentropy_count and
// crossentropy_mean: one workgroup of WG invocations striding over all N rows, then a workgroup
// reduction, in a fixed order: deterministic.
//
// Includes: lib/rows.wgsl (row_index, max4, sum4, the online-softmax step `absorb`, mask_chunk,
// NEG_BIG, MAX_VPT) and lib/rowreduce.wgsl (wg_max_sum, wg_sum, wg_sum2), for which
// crossentropy.ts swaps in lib/rowreduce-subgroup.wgsl when the adapter allows; and the
// generated gen/row-pass.wgsl: pass 1, lib/row-pass.wgsl's row_pass (softmax.wgsl's too) once per
// variant, row_pass_scalar / row_pass_vec4, calling this file's load_row_chunk_<variant>.
//
// No branch depends on the target: a target read from a storage buffer is not uniform in WGSL's
// analysis, and the reductions must be reached by the whole workgroup. An ignored row is computed
// like any other (reading column 0 in place of its target) and its results are multiplied by 0.

//! include lib/rows.wgsl
//! include lib/rowreduce.wgsl
//! include gen/row-pass.wgsl

struct Params {
  N: u32,       // rows in this dispatch
  V: u32,       // vocabulary (valid columns)
  Vp: u32,      // row stride
  ignore: i32,  // target value that marks a row to ignore
}

override WG: u32 = 64u;     // invocations per workgroup, a power of two (lib/rowreduce.wgsl)
override VPT: u32 = 4u;     // crossentropy_forward_backward: chunks of 4 columns each invocation keeps in registers
override LOSS: bool = true; // crossentropy_forward_backward writes losses
override GRAD: bool = true; // crossentropy_forward_backward writes dlogits

@group(0) @binding(0) var<uniform> p: Params;

// crossentropy_forward_backward
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(2) var<storage, read_write> dlogits4: array<vec4f>;
@group(0) @binding(3) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> logits4: array<vec4f>;
@group(0) @binding(4) var<storage, read> targets: array<i32>;
@group(0) @binding(5) var<storage, read> dloss: array<f32>;
@group(0) @binding(6) var<storage, read> stats: array<f32>;

// crossentropy_count
@group(0) @binding(1) var<storage, read_write> stats_out: array<f32>;
@group(0) @binding(2) var<storage, read> count_targets: array<i32>;

// crossentropy_mean
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<storage, read> mean_losses: array<f32>;
@group(0) @binding(3) var<storage, read> mean_targets: array<i32>;

// The one-hot target as a vec4 over columns 4c..4c+3.
fn onehot(c: u32, t: u32) -> vec4f {
  let col = vec4u(4u * c) + vec4u(0u, 1u, 2u, 3u);
  return select(vec4f(0.0), vec4f(1.0), col == vec4u(t));
}

// Chunk c of the logits row at `base`, its columns at or past cv NEG_BIG: the loaders the row
// pass (gen/row-pass.wgsl) calls, vec4 and scalar.
fn load_row_chunk_vec4(base: u32, c: u32, cv: u32) -> vec4f {
  return mask_chunk(logits4[base + c], c, cv);
}

fn load_row_chunk_scalar(base: u32, c: u32, cv: u32) -> vec4f {
  var x = vec4f(NEG_BIG);
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < cv) {
      x[i] = logits[base + 4u * c + i];
    }
  }
  return x;
}

// Scalar store of chunk c of the row starting at `base`.
fn store_dlogits(base: u32, c: u32, y: vec4f) {
  for (var i = 0u; i < 4u; i++) {
    if (4u * c + i < p.Vp) {
      dlogits[base + 4u * c + i] = y[i];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The rows. The two entry points differ only in how a chunk is loaded and stored.

@compute @workgroup_size(WG)
fn crossentropy_forward_backward_scalar(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                                        @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= p.N) {
    return;
  }
  let base = row * p.Vp;
  let ncv = (p.V + 3u) / 4u;     // chunks holding vocabulary columns
  let nc = (p.Vp + 3u) / 4u;     // chunks in the row
  let t = targets[row];
  let kept = t != p.ignore;
  let tu = u32(select(0, t, kept));

  var x: array<vec4f, MAX_VPT>;
  let r = row_pass_scalar(base, lid, ncv, p.V, &x, true);
  let m = r.x;      // this invocation's max over its register chunks, whose exps x now holds
  let tot = r.yz;   // the row's (max, sum of exps)

  if (LOSS && lid == 0u) {
    let lse = tot.x + log(tot.y);
    losses[row] = select(0.0, lse - logits[base + tu], kept);
  }
  if (GRAD) {
    // count >= 1 whenever this row is kept; an ignored row's gradient is 0 * finite.
    let scale = select(0.0, dloss[0] / max(stats[0], 1.0), kept);
    let own = scale * exp(m - tot.x) / tot.y;
    for (var k = 0u; k < VPT; k++) {
      let c = lid + k * WG;
      if (c < nc) {
        store_dlogits(base, c, x[k] * own - scale * onehot(c, tu));
      }
    }
    let inv = scale / tot.y;
    for (var c = lid + VPT * WG; c < nc; c += WG) {
      store_dlogits(base, c, exp(load_row_chunk_scalar(base, c, p.V) - vec4f(tot.x)) * inv - scale * onehot(c, tu));
    }
  }
}

@compute @workgroup_size(WG)
fn crossentropy_forward_backward_vec4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                                      @builtin(local_invocation_index) lid: u32) {
  let row = row_index(wid, nwg);
  if (row >= p.N) {
    return;
  }
  let nc = p.Vp / 4u;
  let base = row * nc;
  let ncv = (p.V + 3u) / 4u;
  let t = targets[row];
  let kept = t != p.ignore;
  let tu = u32(select(0, t, kept));

  var x: array<vec4f, MAX_VPT>;
  let r = row_pass_vec4(base, lid, ncv, p.V, &x, true);
  let m = r.x;      // this invocation's max over its register chunks, whose exps x now holds
  let tot = r.yz;   // the row's (max, sum of exps)

  if (LOSS && lid == 0u) {
    let lse = tot.x + log(tot.y);
    losses[row] = select(0.0, lse - logits4[base + tu / 4u][tu % 4u], kept);
  }
  if (GRAD) {
    let scale = select(0.0, dloss[0] / max(stats[0], 1.0), kept);
    let own = scale * exp(m - tot.x) / tot.y;
    for (var k = 0u; k < VPT; k++) {
      let c = lid + k * WG;
      if (c < nc) {
        dlogits4[base + c] = x[k] * own - scale * onehot(c, tu);
      }
    }
    let inv = scale / tot.y;
    for (var c = lid + VPT * WG; c < nc; c += WG) {
      var y = vec4f(0.0);
      if (c < ncv) {
        y = exp(load_row_chunk_vec4(base, c, p.V) - vec4f(tot.x)) * inv - scale * onehot(c, tu);
      }
      dlogits4[base + c] = y;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Counting kept rows, and the mean loss. One workgroup each.

@compute @workgroup_size(WG)
fn crossentropy_count(@builtin(local_invocation_index) lid: u32) {
  var n = 0.0;
  for (var i = lid; i < p.N; i += WG) {
    n += select(0.0, 1.0, count_targets[i] != p.ignore);
  }
  let total = wg_sum(n, lid);
  if (lid == 0u) {
    stats_out[0] = total;
  }
}

@compute @workgroup_size(WG)
fn crossentropy_mean(@builtin(local_invocation_index) lid: u32) {
  var acc = vec2f(0.0);   // (sum of losses, kept rows)
  for (var i = lid; i < p.N; i += WG) {
    let kept = mean_targets[i] != p.ignore;
    acc += select(vec2f(0.0), vec2f(mean_losses[i], 1.0), kept);
  }
  let total = wg_sum2(acc, lid);
  if (lid == 0u) {
    loss[0] = select(0.0, total.x / total.y, total.y > 0.0);
  }
}
