// Naive cross-entropy baseline for the bench: one invocation per row, three scalar passes
// (max, sum of exp, then loss and dlogits), 64 rows per workgroup; count and mean computed by one
// invocation. Padding columns and ignored rows are zeroed like the real kernel's. Tensors larger
// than one binding are bound in blocks of rows (losses, logits, dlogits); targets whole.
struct Params { N: u32, V: u32, Vp: u32, ignore: i32, rows: u32, row0: u32 }  // rows from row0 bound at offset
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(3) var<storage, read> logits: array<f32>;
@group(0) @binding(4) var<storage, read> targets: array<i32>;
@group(0) @binding(5) var<storage, read> dloss: array<f32>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<storage, read> mean_losses: array<f32>;
@group(0) @binding(3) var<storage, read> mean_targets: array<i32>;

override GRAD: bool = true;

@compute @workgroup_size(64)
fn naive_rows(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.x;            // within this block of rows
  if (row >= p.rows) { return; }
  let base = row * p.Vp;
  let t = targets[p.row0 + row];
  var count = 0.0;
  if (GRAD) {
    for (var i = 0u; i < p.N; i++) { count += select(0.0, 1.0, targets[i] != p.ignore); }
  }
  if (t == p.ignore) {
    losses[row] = 0.0;
    if (GRAD) { for (var j = 0u; j < p.Vp; j++) { dlogits[base + j] = 0.0; } }
    return;
  }
  var m = logits[base];
  for (var j = 1u; j < p.V; j++) { m = max(m, logits[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < p.V; j++) { s += exp(logits[base + j] - m); }
  losses[row] = m + log(s) - logits[base + u32(t)];
  if (GRAD) {
    let scale = dloss[0] / count;
    for (var j = 0u; j < p.Vp; j++) {
      var g = 0.0;
      if (j < p.V) { g = scale * (exp(logits[base + j] - m) / s - select(0.0, 1.0, j == u32(t))); }
      dlogits[base + j] = g;
    }
  }
}

@compute @workgroup_size(1)
fn naive_mean() {
  var total = 0.0;
  var count = 0.0;
  for (var i = 0u; i < p.N; i++) {
    if (mean_targets[i] != p.ignore) { total += mean_losses[i]; count += 1.0; }
  }
  loss[0] = select(0.0, total / count, count > 0.0);
}
