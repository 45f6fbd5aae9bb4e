#!/usr/bin/env bash
# Makes a checkout ready to run, and does nothing when it already is (so `npm run train` and
# `npm test` call it every time): the npm dependencies (npm ci when node_modules is missing or was
# installed from another package-lock.json), then a WebGPU adapter — on a CPU-only Debian/Ubuntu
# machine Mesa's lavapipe (scripts/install-vulkan-cpu.sh). Where it cannot install (not root and
# no password-less sudo, or no apt-get), it stops at once and prints the command to run.
# --quiet: print nothing when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
quiet=0
[ "${1:-}" = --quiet ] && quiet=1
say() { [ "$quiet" = 1 ] || echo "setup: $*"; }

stamp=node_modules/.webgpu-gpt-setup
want="$(sha1sum package-lock.json | cut -c1-40)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
else
  say "npm dependencies are installed"
fi

if node scripts/probe-adapter.mjs >/dev/null 2>&1; then
  say "a WebGPU adapter exists"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "setup: Dawn finds no WebGPU adapter, and this is not a Debian/Ubuntu machine (no apt-get)." >&2
  echo "setup: install your GPU's Vulkan driver and the Vulkan loader, or Mesa >= 25 (lavapipe) for a CPU, then run this again." >&2
  exit 1
fi
if [ "$(id -u)" != 0 ] && ! sudo -n true 2>/dev/null; then
  echo "setup: Dawn finds no WebGPU adapter; installing the CPU Vulkan driver needs root. Run:" >&2
  echo "  sudo bash scripts/install-vulkan-cpu.sh" >&2
  exit 1
fi
echo "setup: no WebGPU adapter: installing Mesa's lavapipe (CPU Vulkan driver)"
bash scripts/install-vulkan-cpu.sh
