#!/usr/bin/env bash
# The main job on the embedded default: sets up (installs + builds), evaluates the bundled
# Fashion-MNIST CNN on the real Fashion-MNIST test set, compresses it with post-training int8
# quantization (configs/fashion_quant_post.yaml, calibrated on real training images) and
# evaluates the int8 model the same way. Output goes to out/default (replaced on each run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh" "$root/build"
act="$root/build/bin/act"
test_set=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
"$act" inspect "$root/models/fashion_cnn.onnx"
echo
echo "== float model"
"$act" eval "$root/models/fashion_cnn.onnx" --data "$test_set"
echo
echo "== act compress (QuantPost, int8)"
"$act" compress --config "$root/configs/fashion_quant_post.yaml" --save-dir "$root/out/default"
echo
echo "== int8 model ($(stat -c %s "$root/out/default/model.onnx") bytes, float: $(stat -c %s "$root/models/fashion_cnn.onnx") bytes)"
exec "$act" eval "$root/out/default/model.onnx" --data "$test_set"
