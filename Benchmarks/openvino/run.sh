#!/usr/bin/env bash
# OpenVINO (optimum-intel) beside Kiln on a whole render (by default KilnBenchmark's render-512:
# 512x512, 2 steps, guidance 5): exports MODEL_DIR (a diffusers SDXL base folder, e.g. one written
# by Benchmarks/full_size_models.py) with `optimum-cli export openvino --weight-format fp16`, then
# runs, one process each and back to back: OpenVINO with the f32 hint, OpenVINO with its default
# (bf16 on CPUs with AVX512-BF16), Kiln fp32 and Kiln bf16. Prints seconds and peak RSS of each
# whole process, each image's largest difference from Kiln fp32's and each engine's step times,
# and writes them as JSON.
#
#   Benchmarks/openvino/run.sh [--size PX] [--steps N] [--guidance G] [--timestep-spacing trailing]
#                              [--export-only] MODEL_DIR [WORK_DIR] [JSON]
#
# --size/--steps/--guidance/--timestep-spacing set the render (render-1024-30: --size 1024
# --steps 30; render-1024-lightning: --size 1024 --steps 4 --guidance 0 --timestep-spacing
# trailing). --export-only makes the venv and WORK_DIR/ir and stops (KilnBenchmark --openvino
# does this, then times OpenVINO itself). The export in WORK_DIR/ir is reused: give each model its
# own WORK_DIR. Needs a release build (swift build -c release) and network access for pip the
# first time (the venv is KILN_OPENVINO_VENV, else .venv-openvino). Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
size=512 steps=2 guidance=5 spacing="" export_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --size) size=${2:?--size needs pixels}; shift 2 ;;
    --steps) steps=${2:?--steps needs a count}; shift 2 ;;
    --guidance) guidance=${2:?--guidance needs a scale}; shift 2 ;;
    --timestep-spacing) spacing=${2:?--timestep-spacing needs leading, linspace or trailing}; shift 2 ;;
    --export-only) export_only=1; shift ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
model=${1:?usage: Benchmarks/openvino/run.sh [--size PX] [--steps N] [--guidance G] [--timestep-spacing S] [--export-only] MODEL_DIR [WORK_DIR] [JSON]}
work=${2:-/tmp/kiln-openvino}
json=${3:-Benchmarks/results/openvino-$(date +%s).json}
venv=${KILN_OPENVINO_VENV:-.venv-openvino}
kiln=.build/release/kiln
[ -d "$model" ] || { echo "run.sh: $model is not a model folder" >&2; exit 2; }
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
[ "$export_only" = 1 ] && { echo "$ir"; exit 0; }
[ -x "$kiln" ] || { echo "run.sh: build first: swift build -c release" >&2; exit 1; }

# name, command...: the whole process's seconds and peak RSS (GB) into $work/NAME.time
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/$name.time" "$@" > "$work/$name.log" 2>&1 || { echo "$name failed: see $work/$name.log" >&2; return 1; }
}
recipe=(--size "$size" --steps "$steps" --guidance "$guidance"); [ -n "$spacing" ] && recipe+=(--timestep-spacing "$spacing")
render=(--prompt "a lighthouse" --steps "$steps" --guidance "$guidance" --width "$size" --height "$size" --seed 1)
[ -n "$spacing" ] && render+=(--scheduler euler --scheduler-config "timestep_spacing=$spacing")
measure openvino-f32 "$venv/bin/python" Benchmarks/openvino/render.py "$ir" f32 "$work/openvino-f32.png" "${recipe[@]}"
measure openvino-default "$venv/bin/python" Benchmarks/openvino/render.py "$ir" default "$work/openvino-default.png" "${recipe[@]}"
KILN_TIMINGS=$work/kiln-fp32.times.json measure kiln-fp32 "$kiln" render --model "$model" "${render[@]}" --output "$work/kiln-fp32.png"
KILN_TIMINGS=$work/kiln-bf16.times.json measure kiln-bf16 "$kiln" render --model "$model" "${render[@]}" --precision bf16 --output "$work/kiln-bf16.png"

"$venv/bin/python" - "$work" "$json" "$size" "$steps" "$guidance" "$spacing" <<'PY'
import json, sys
import numpy as np
from PIL import Image
work, out, size, steps, guidance, spacing = sys.argv[1:7]
reference = np.asarray(Image.open(f"{work}/kiln-fp32.png").convert("RGB")).astype(int)
rows = []
for name in ["openvino-f32", "openvino-default", "kiln-fp32", "kiln-bf16"]:
    seconds, kb = open(f"{work}/{name}.time").read().split()[-2:]
    image = np.asarray(Image.open(f"{work}/{name}.png").convert("RGB")).astype(int)
    diff = np.abs(image - reference)
    row = {"engine": name, "seconds": float(seconds), "peak_rss_gb": int(kb) / 1e6,
           "max_difference_from_kiln_fp32": int(diff.max()), "mean_difference_from_kiln_fp32": float(diff.mean())}
    # Step times: render.py's last stdout line (OpenVINO), KILN_TIMINGS' file (Kiln).
    try:
        if name.startswith("kiln"):
            times = json.load(open(f"{work}/{name}.times.json"))
        else:
            times = json.loads(open(f"{work}/{name}.log").read().strip().splitlines()[-1])
        row.update({k: times[k] for k in ("setup_seconds", "step_seconds", "decode_seconds") if k in times})
    except (OSError, ValueError, IndexError):
        pass
    rows.append(row)
    s = row.get("step_seconds") or []
    series = f", steps {s[0]:.2f} / {sorted(s)[len(s) // 2]:.2f} / {s[-1]:.2f} s (first / median / last)" if s else ""
    print(f"{name:18} {float(seconds):8.2f} s {int(kb) / 1e6:6.1f} GB  vs kiln fp32: max {diff.max()}, mean {diff.mean():.3f}{series}")
line = "render-512" if (size, steps, guidance) == ("512", "2", "5") and not spacing else f"render-{size}-{steps}-steps"
json.dump({"line": line, "size": int(size), "steps": int(steps), "guidance": float(guidance),
           "timestep_spacing": spacing or None, "results": rows}, open(out, "w"), indent=1)
print("wrote", out)
PY
