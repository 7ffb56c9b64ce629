"""The benchmark suite's lines in PyTorch/diffusers, for KilnBenchmark to print beside Kiln's.

    python torch_lines.py LINE PRECISION CONFIG_DIR RUNS [MODEL_DIR] [--size PX]
        [--steps N --guidance G [--timestep-spacing trailing]]   (render-* lines)
        [--controlnet DIR --control-image FILE --control-scale S]   (render-1024-controlnet)

Builds the same component from the same published config (random weights, as Kiln's line does;
CONFIG_DIR/taesd.json is taesdxl's), runs it RUNS times in float32 or bfloat16 and prints one
JSON line with the best call's seconds; `--size` replaces the line's image size. The render-*
lines load MODEL_DIR with StableDiffusionXLPipeline and render PX x PX in `--steps` steps at
`--guidance` (with `--timestep-spacing`: EulerDiscreteScheduler.from_config(..., timestep_spacing=...)),
seed 1, "a lighthouse" (the whole process is timed by the caller), save the image as
CONFIG_DIR/LINE-torch-PRECISION.png for the caller to compare with Kiln's, and report the setup,
per-step and decode seconds (step_timer.py). With `--controlnet`, StableDiffusionXLControlNetPipeline
with that ControlNet folder, fed FILE at scale S. controlnet-1024 is one ControlNetModel forward
from CONFIG_DIR/controlnet.json (diffusers/controlnet-canny-sdxl-1.0's), batch 2.
"""
import time

process_start = time.perf_counter()  # before torch's import, as Kiln's setup counts its loading

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

import torch  # noqa: E402

parser = argparse.ArgumentParser()
for name in ("line", "precision", "config_dir"):
    parser.add_argument(name)
parser.add_argument("runs", type=int)
parser.add_argument("model_dir", nargs="?")
parser.add_argument("--size", type=int)
parser.add_argument("--steps", type=int, default=2)
parser.add_argument("--guidance", type=float, default=5.0)
parser.add_argument("--timestep-spacing")
parser.add_argument("--controlnet")
parser.add_argument("--control-image")
parser.add_argument("--control-scale", type=float, default=1.0)
options = parser.parse_args()
line, precision, config_dir, runs, model_dir = options.line, options.precision, options.config_dir, options.runs, options.model_dir
pixels = options.size or (512 if line.endswith("-512") else 1024)
dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
torch.manual_seed(0)


def config(component):
    with open(os.path.join(config_dir, component + ".json")) as f:
        return {k: v for k, v in json.load(f).items() if not k.startswith("_")}


def component_call():
    if line.startswith("unet-"):
        from diffusers import UNet2DConditionModel
        n = pixels // 8
        unet = UNet2DConditionModel(**config("unet")).eval().to(dtype)
        sample = torch.randn(2, 4, n, n, dtype=dtype)
        hidden = torch.randn(2, 77, 2048, dtype=dtype)
        cond = {"text_embeds": torch.randn(2, 1280, dtype=dtype),
                "time_ids": torch.tensor([[pixels * 1.0, pixels * 1.0, 0, 0, pixels * 1.0, pixels * 1.0]] * 2, dtype=dtype)}
        return lambda: unet(sample, 500, encoder_hidden_states=hidden, added_cond_kwargs=cond)
    if line.startswith("controlnet-"):
        from diffusers import ControlNetModel
        n = pixels // 8
        controlnet = ControlNetModel(**config("controlnet")).eval().to(dtype)
        sample = torch.randn(2, 4, n, n, dtype=dtype)
        condition = torch.rand(2, 3, pixels, pixels, dtype=dtype)
        hidden = torch.randn(2, 77, 2048, dtype=dtype)
        cond = {"text_embeds": torch.randn(2, 1280, dtype=dtype),
                "time_ids": torch.tensor([[pixels * 1.0, pixels * 1.0, 0, 0, pixels * 1.0, pixels * 1.0]] * 2, dtype=dtype)}
        return lambda: controlnet(sample, 500, encoder_hidden_states=hidden, controlnet_cond=condition, conditioning_scale=1.0,
                                  added_cond_kwargs=cond, return_dict=False)
    if line.startswith("vae-"):
        from diffusers import AutoencoderKL
        vae = AutoencoderKL(**config("vae")).eval().to(dtype)
        if line == "vae-decode-1024":
            latents = torch.randn(1, 4, pixels // 8, pixels // 8, dtype=dtype)
            return lambda: vae.decode(latents)
        image = torch.rand(1, 3, pixels, pixels, dtype=dtype) * 2 - 1
        return lambda: vae.encode(image)
    if line == "taesd-decode-1024":
        from diffusers import AutoencoderTiny
        vae = AutoencoderTiny(**config("taesd")).eval().to(dtype)
        latents = torch.randn(1, 4, pixels // 8, pixels // 8, dtype=dtype)
        return lambda: vae.decode(latents)
    if line.startswith("text-encoder"):
        from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection
        second = line == "text-encoder-2"
        cfg = CLIPTextConfig(**config("text_encoder_2" if second else "text_encoder"))
        model = (CLIPTextModelWithProjection if second else CLIPTextModel)(cfg).eval().to(dtype)
        ids = torch.tensor([[49406] + [320 + i * 7 for i in range(1, 76)] + [49407]])
        return lambda: model(ids, output_hidden_states=True)
    raise SystemExit(f"unknown line {line}")


result = {"line": line, "engine": "torch", "precision": precision}
with torch.no_grad():
    if line.startswith("render-"):
        from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from step_timer import StepTimer

        def fp16_only(folder):
            """Folders written with variant="fp16" (as full_size_models.py does) hold only *.fp16 files."""
            return any(f.endswith(".fp16.safetensors") for f in os.listdir(folder))

        variant = "fp16" if fp16_only(os.path.join(model_dir, "unet")) else None
        extra = {}
        if options.controlnet:
            from diffusers import ControlNetModel, StableDiffusionXLControlNetPipeline
            from PIL import Image
            extra = {"image": Image.open(options.control_image).convert("RGB"), "controlnet_conditioning_scale": options.control_scale}
            controlnet = ControlNetModel.from_pretrained(options.controlnet, torch_dtype=dtype,
                                                         variant="fp16" if fp16_only(options.controlnet) else None)
            pipe = StableDiffusionXLControlNetPipeline.from_pretrained(model_dir, controlnet=controlnet, torch_dtype=dtype, variant=variant)
        else:
            pipe = StableDiffusionXLPipeline.from_pretrained(model_dir, torch_dtype=dtype, variant=variant)
        if options.timestep_spacing:
            pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config, timestep_spacing=options.timestep_spacing)
        timer = StepTimer(process_start, pipe)
        t = time.perf_counter()
        image = pipe("a lighthouse", num_inference_steps=options.steps, guidance_scale=options.guidance, width=pixels, height=pixels,
                     generator=torch.Generator().manual_seed(1), callback_on_step_end=timer.step_end, **extra).images[0]
        image.save(os.path.join(config_dir, f"{line}-torch-{precision}.png"))
        result.update(timer.times())
        result["seconds"] = None  # the caller times the whole process
        result["note"] = f"pipeline call {time.perf_counter() - t:.1f} s"
    else:
        call = component_call()
        best = float("inf")
        for _ in range(runs):
            t = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - t)
        result["seconds"] = best
result["note"] = ", ".join(filter(None, [result.get("note"), f"torch {torch.__version__}, {torch.get_num_threads()} threads"]))
print(json.dumps(result), flush=True)
