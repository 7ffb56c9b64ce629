#!/usr/bin/env bash
# OpenVINO (optimum-intel) beside Kiln on KilnBenchmark's whole render (512x512, 2 steps,
# guidance 5): exports MODEL_DIR (a diffusers SDXL base folder, e.g. one written by
# Benchmarks/full_size_models.py) with `optimum-cli export openvino --weight-format fp16`, then
# runs, one process each and back to back: OpenVINO with the f32 hint, OpenVINO with its default
# (bf16 on CPUs with AVX512-BF16), Kiln fp32 and Kiln bf16. Prints seconds and peak RSS of each
# whole process and each image's largest difference from Kiln fp32's, and writes them as JSON.
#
#   Benchmarks/openvino/run.sh MODEL_DIR [WORK_DIR] [JSON]
#
# Needs a release build (swift build -c release) and network access for pip the first time
# (the venv is .venv-openvino). Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=${1:?usage: Benchmarks/openvino/run.sh MODEL_DIR [WORK_DIR] [JSON]}
work=${2:-/tmp/kiln-openvino}
json=${3:-Benchmarks/results/openvino-$(date +%s).json}
venv=.venv-openvino
kiln=.build/release/kiln
[ -x "$kiln" ] || { echo "run.sh: build first: swift build -c release" >&2; exit 1; }
mkdir -p "$work"
if [ ! -x "$venv/bin/optimum-cli" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q "optimum-intel[openvino,diffusers]" pillow
fi
ir=$work/ir
if [ ! -f "$ir/model_index.json" ]; then
  # A folder holding only fp16 variant files (as full_size_models.py writes) needs --variant fp16.
  variant=(); ls "$model"/unet/*.fp16.safetensors > /dev/null 2>&1 && variant=(--variant fp16)
  "$venv/bin/optimum-cli" export openvino --model "$model" --task text-to-image --weight-format fp16 "${variant[@]}" "$ir"
fi

# name, command...: the whole process's seconds and peak RSS (GB) into $work/NAME.time
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$work/$name.log" 2>&1 || { echo "$name failed: see $work/$name.log" >&2; return 1; }
}
render=(--prompt "a lighthouse" --steps 2 --guidance 5 --width 512 --height 512 --seed 1)
measure openvino-f32 "$venv/bin/python" Benchmarks/openvino/render.py "$ir" f32 "$work/openvino-f32.png"
measure openvino-default "$venv/bin/python" Benchmarks/openvino/render.py "$ir" default "$work/openvino-default.png"
measure kiln-fp32 "$kiln" render --model "$model" "${render[@]}" --output "$work/kiln-fp32.png"
measure kiln-bf16 "$kiln" render --model "$model" "${render[@]}" --precision bf16 --output "$work/kiln-bf16.png"

"$venv/bin/python" - "$work" "$json" <<'EOF'
import json, sys
import numpy as np
from PIL import Image
work, out = sys.argv[1], sys.argv[2]
reference = np.asarray(Image.open(f"{work}/kiln-fp32.png").convert("RGB")).astype(int)
rows = []
for name in ["openvino-f32", "openvino-default", "kiln-fp32", "kiln-bf16"]:
    seconds, kb = open(f"{work}/{name}.time").read().split()[-2:]
    image = np.asarray(Image.open(f"{work}/{name}.png").convert("RGB")).astype(int)
    diff = np.abs(image - reference)
    rows.append({"engine": name, "seconds": float(seconds), "peak_rss_gb": int(kb) / 1e6,
                 "max_difference_from_kiln_fp32": int(diff.max()), "mean_difference_from_kiln_fp32": float(diff.mean())})
    print(f"{name:18} {float(seconds):8.2f} s {int(kb) / 1e6:6.1f} GB  vs kiln fp32: max {diff.max()}, mean {diff.mean():.3f}")
json.dump({"line": "render-512", "results": rows}, open(out, "w"), indent=1)
print("wrote", out)
EOF
