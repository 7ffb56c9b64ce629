"""One whole render in OpenVINO (optimum-intel), for Benchmarks/openvino/run.sh and
KilnBenchmark --openvino to time.

    python render.py IR_DIR HINT OUT.png [--size PX] [--steps N] [--guidance G] [--timestep-spacing S]

IR_DIR is an SDXL base exported by `optimum-cli export openvino --weight-format fp16`. HINT is
`f32` (INFERENCE_PRECISION_HINT=f32: float32 arithmetic) or `default` (the CPU plugin's own
choice: bf16 on CPUs with AVX512-BF16 or AMX). Renders what KilnBenchmark's render lines render
(PX x PX, default 512, N steps, default 2, guidance G, default 5, seed 1, "a lighthouse"; with
--timestep-spacing, EulerDiscreteScheduler.from_config(..., timestep_spacing=S)) and prints one
JSON line with the seconds spent loading and rendering and the setup, per-step and decode
seconds (../step_timer.py); the caller times the whole process and its peak RSS.
"""
import time

process_start = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from optimum.intel import OVStableDiffusionXLPipeline  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from step_timer import StepTimer  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("ir_dir")
parser.add_argument("hint", choices=["f32", "default"])
parser.add_argument("out")
parser.add_argument("--size", type=int, default=512)
parser.add_argument("--steps", type=int, default=2)
parser.add_argument("--guidance", type=float, default=5.0)
parser.add_argument("--timestep-spacing")
options = parser.parse_args()
config = {"INFERENCE_PRECISION_HINT": "f32"} if options.hint == "f32" else {}
start = time.perf_counter()
pipe = OVStableDiffusionXLPipeline.from_pretrained(options.ir_dir, ov_config=config, compile=True)
if options.timestep_spacing:
    from diffusers import EulerDiscreteScheduler
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config, timestep_spacing=options.timestep_spacing)
timer = StepTimer(process_start, pipe)
loaded = time.perf_counter()
image = pipe(prompt="a lighthouse", width=options.size, height=options.size, num_inference_steps=options.steps,
             guidance_scale=options.guidance, generator=torch.Generator("cpu").manual_seed(1), output_type="np",
             callback_on_step_end=timer.step_end).images[0]
done = time.perf_counter()
from PIL import Image  # noqa: E402

Image.fromarray((np.clip(image, 0, 1) * 255).round().astype("uint8")).save(options.out)
print(json.dumps({"hint": options.hint, "load_seconds": loaded - start, "render_seconds": done - loaded, **timer.times()}))
