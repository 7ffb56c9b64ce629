"""The benchmark suite's lines in PyTorch/diffusers, for KilnBenchmark to print beside Kiln's.

    python torch_lines.py LINE PRECISION CONFIG_DIR RUNS [MODEL_DIR]

Builds the same component from the same published config (random weights, as Kiln's line does),
runs it RUNS times in float32 or bfloat16 and prints one JSON line with the best call's seconds.
`render-512` loads MODEL_DIR with StableDiffusionXLPipeline and renders 512x512 in 2 steps at
guidance 5 (the whole process is timed by the caller) and saves the image as
CONFIG_DIR/render-torch-PRECISION.png for the caller to compare with Kiln's.
"""
import json
import os
import sys
import time

import torch

line, precision, config_dir, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
model_dir = sys.argv[5] if len(sys.argv) > 5 else None
dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
torch.manual_seed(0)


def config(component):
    with open(os.path.join(config_dir, component + ".json")) as f:
        return {k: v for k, v in json.load(f).items() if not k.startswith("_")}


def component_call():
    if line.startswith("unet-"):
        from diffusers import UNet2DConditionModel
        n = 64 if line == "unet-512" else 128
        unet = UNet2DConditionModel(**config("unet")).eval().to(dtype)
        sample = torch.randn(2, 4, n, n, dtype=dtype)
        hidden = torch.randn(2, 77, 2048, dtype=dtype)
        cond = {"text_embeds": torch.randn(2, 1280, dtype=dtype),
                "time_ids": torch.tensor([[n * 8.0, n * 8.0, 0, 0, n * 8.0, n * 8.0]] * 2, dtype=dtype)}
        return lambda: unet(sample, 500, encoder_hidden_states=hidden, added_cond_kwargs=cond)
    if line.startswith("vae-"):
        from diffusers import AutoencoderKL
        vae = AutoencoderKL(**config("vae")).eval().to(dtype)
        if line == "vae-decode-1024":
            latents = torch.randn(1, 4, 128, 128, dtype=dtype)
            return lambda: vae.decode(latents)
        image = torch.rand(1, 3, 1024, 1024, dtype=dtype) * 2 - 1
        return lambda: vae.encode(image)
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
    if line == "render-512":
        from diffusers import StableDiffusionXLPipeline
        # Folders written with variant="fp16" (as full_size_models.py does) hold only *.fp16 files.
        fp16 = any(f.endswith(".fp16.safetensors") for f in os.listdir(os.path.join(model_dir, "unet")))
        pipe = StableDiffusionXLPipeline.from_pretrained(model_dir, torch_dtype=dtype, variant="fp16" if fp16 else None)
        t = time.perf_counter()
        image = pipe("a lighthouse", num_inference_steps=2, guidance_scale=5.0, width=512, height=512,
                     generator=torch.Generator().manual_seed(1)).images[0]
        image.save(os.path.join(config_dir, f"render-torch-{precision}.png"))
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
