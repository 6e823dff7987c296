#!/usr/bin/env bash
# The main job on the embedded default: sets up (installs + builds), then evaluates the bundled
# Fashion-MNIST CNN on the real Fashion-MNIST test set, printing accuracy and throughput.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" "$root/build"
"$root/build/bin/act" inspect "$root/models/fashion_cnn.onnx"
exec "$root/build/bin/act" eval "$root/models/fashion_cnn.onnx" \
  --data /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
