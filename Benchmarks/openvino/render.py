"""One whole render in OpenVINO (optimum-intel), for Benchmarks/openvino/run.sh to time.

    python render.py IR_DIR HINT OUT.png

IR_DIR is an SDXL base exported by `optimum-cli export openvino --weight-format fp16`. HINT is
`f32` (INFERENCE_PRECISION_HINT=f32: float32 arithmetic) or `default` (the CPU plugin's own
choice: bf16 on CPUs with AVX512-BF16 or AMX). Renders what KilnBenchmark's render-512 line
renders (512x512, 2 steps, guidance 5, seed 1, "a lighthouse") and prints one JSON line with
the seconds spent loading and rendering; the caller times the whole process and its peak RSS.
"""
import json
import sys
import time

import numpy as np
import torch
from optimum.intel import OVStableDiffusionXLPipeline

ir_dir, hint, out = sys.argv[1], sys.argv[2], sys.argv[3]
config = {"INFERENCE_PRECISION_HINT": "f32"} if hint == "f32" else {}
start = time.perf_counter()
pipe = OVStableDiffusionXLPipeline.from_pretrained(ir_dir, ov_config=config, compile=True)
loaded = time.perf_counter()
image = pipe(prompt="a lighthouse", width=512, height=512, num_inference_steps=2, guidance_scale=5.0,
             generator=torch.Generator("cpu").manual_seed(1), output_type="np").images[0]
done = time.perf_counter()
from PIL import Image  # noqa: E402

Image.fromarray((np.clip(image, 0, 1) * 255).round().astype("uint8")).save(out)
print(json.dumps({"hint": hint, "load_seconds": loaded - start, "render_seconds": done - loaded}))
