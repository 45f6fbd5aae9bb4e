#!/usr/bin/env bash
# Installs a CPU Vulkan driver (Mesa's lavapipe, version >= 25) on Debian 12 when Dawn finds no
# WebGPU adapter. Debian 12's own Mesa 22.3 is refused by current Dawn
# ("shaderUniform*ArrayDynamicIndexing required"); bookworm-backports carries Mesa 25.0.x.
# The archive address is taken from the machine's existing apt sources, so this works behind
# whatever mirror the machine is configured for. Does nothing where an adapter already exists.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

probe() { [ -d node_modules/webgpu ] && node scripts/probe-adapter.mjs >/dev/null 2>&1; }

if [ "${FORCE_INSTALL:-0}" != 1 ] && probe; then
  echo "install-vulkan-cpu: a WebGPU adapter already exists; nothing to do"
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "install-vulkan-cpu: no apt-get here. Install a Vulkan driver for your GPU, or Mesa >= 25 (lavapipe) for a CPU." >&2
  exit 1
fi
. /etc/os-release
codename="${VERSION_CODENAME:-}"
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo

have_mesa_version() {
  dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | sed -E 's/^[0-9]+://; s/\..*//'
}
major="$(have_mesa_version || true)"
if [ -n "$major" ] && [ "$major" -ge 25 ] 2>/dev/null; then
  echo "install-vulkan-cpu: mesa-vulkan-drivers $major.x already installed"
else
  if [ "$codename" = bookworm ]; then
    # First deb822 or one-line source for the main Debian archive (not -security).
    uri=""
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      u=$(awk '/^URIs:/{u=$2} /^Suites:/{ if ($0 ~ /bookworm( |$)/ && u !~ /security/) {print u; exit} }' "$f")
      [ -n "$u" ] && { uri="$u"; break; }
    done
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
      uri=$(awk '$1=="deb" && $3=="bookworm" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
    fi
    if [ -z "$uri" ]; then
      echo "install-vulkan-cpu: could not find the Debian archive in the apt sources" >&2; exit 1
    fi
    list=/etc/apt/sources.list.d/webgpu-gpt-backports.list
    echo "deb $uri bookworm-backports main" | $SUDO tee "$list" >/dev/null
    echo "install-vulkan-cpu: using $uri bookworm-backports"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
  else
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
  fi
fi

if [ -d node_modules/webgpu ]; then
  node scripts/probe-adapter.mjs
else
  echo "install-vulkan-cpu: driver installed (run npm ci, then npm run probe to see the adapter)"
fi
