#!/usr/bin/env bash
# One-command set-up on a fresh machine: dependencies, then a Vulkan driver if no WebGPU adapter exists.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
npm ci --no-audit --no-fund
bash scripts/install-vulkan-cpu.sh
