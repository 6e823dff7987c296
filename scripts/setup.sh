#!/usr/bin/env bash
# Installs what ACT needs on a Debian 12 machine, if missing, then configures and builds it.
# Idempotent: a second run installs nothing and rebuilds only what changed.
# Usage: scripts/setup.sh [build-dir]     (default: build)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${1:-$root/build}"

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

mapfile -t packages < <(grep -vE '^\s*(#|$)' "$here/debian-packages.txt")
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

py="$(command -v python3)"
if ! "$py" -c "import numpy, onnx, onnxruntime" 2>/dev/null; then
  echo "setup: installing Python packages with pip: $(grep -vE '^\s*(#|$)' "$here/python-requirements.txt" | tr '\n' ' ')"
  "$py" -m pip install -q -r "$here/python-requirements.txt" 2>&1 | grep -v "Running pip as the 'root' user" || true
  "$py" -c "import numpy, onnx, onnxruntime" || {
    echo "setup: error: Python packages numpy/onnx/onnxruntime could not be installed" >&2
    exit 1
  }
fi

export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j "$(nproc)"
