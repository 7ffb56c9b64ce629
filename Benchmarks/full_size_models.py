#!/usr/bin/env python3
"""Writes full-size SDXL base and refiner pipelines with random weights, for measuring speed and
memory at the real sizes (no real weights can be downloaded here).

    python3 Benchmarks/full_size_models.py OUT_DIR [--base-only] [--controlnet | --controlnet-only]

Uses the fixture virtual environment (.venv-fixtures, made by Tests/Fixtures/generate_fixtures.py)
and writes OUT_DIR/sdxl-base and OUT_DIR/sdxl-refiner as diffusers saves them: float16 weight
files (variant "fp16", as users download them), the published SDXL configs, the full CLIP
tokenizers from Tests/Fixtures/tokenizer-full. The refiner shares text_encoder_2 and the VAE with
the base (the same files), as the published refiner does. About 13 GB on disk; building them
needs about 12 GB of memory. `--base-only` writes only OUT_DIR/sdxl-base (about 7 GB; all the
benchmark suite's render lines need), skipping the refiner's 2.3-billion-parameter UNet.
`--controlnet` also writes OUT_DIR/controlnet-canny, a ControlNet with
diffusers/controlnet-canny-sdxl-1.0's config (float16, variant "fp16", about 2.5 GB; for the
suite's render-1024-controlnet line), and keeps a pipeline folder that is already there (its
model_index.json and scheduler written) instead of rewriting it; `--controlnet-only` writes only
the ControlNet, beside a base written before.
"""
import gzip
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV_PYTHON = os.path.join(ROOT, ".venv-fixtures", "bin", "python")

if os.environ.get("KILN_FULL_SIZE_INSIDE") != "1":
    if not os.path.exists(VENV_PYTHON):
        sys.exit("make the fixture environment first: python3 Tests/Fixtures/generate_fixtures.py")
    sys.exit(subprocess.call([VENV_PYTHON, os.path.abspath(__file__)] + sys.argv[1:],
                             env=dict(os.environ, KILN_FULL_SIZE_INSIDE="1")))

import torch  # noqa: E402
from diffusers import AutoencoderKL, ControlNetModel, EulerDiscreteScheduler, UNet2DConditionModel  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection  # noqa: E402

# The published configs of stabilityai/stable-diffusion-xl-base-1.0 and -refiner-1.0.
BASE_UNET = dict(addition_embed_type="text_time", addition_time_embed_dim=256, attention_head_dim=[5, 10, 20],
                 block_out_channels=[320, 640, 1280], cross_attention_dim=2048,
                 down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                 up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], in_channels=4, out_channels=4,
                 layers_per_block=2, projection_class_embeddings_input_dim=2816, sample_size=128,
                 transformer_layers_per_block=[1, 2, 10], use_linear_projection=True)
REFINER_UNET = dict(addition_embed_type="text_time", addition_time_embed_dim=256, attention_head_dim=[6, 12, 24, 24],
                    block_out_channels=[384, 768, 1536, 1536], cross_attention_dim=1280,
                    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
                    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], in_channels=4,
                    out_channels=4, layers_per_block=2, projection_class_embeddings_input_dim=2560, sample_size=128,
                    transformer_layers_per_block=4, use_linear_projection=True)
# diffusers/controlnet-canny-sdxl-1.0's config: the base UNet's encoder settings plus the
# conditioning embedding's (as KilnBenchmark's Lines.controlnetCannyConfig).
CONTROLNET = dict({k: v for k, v in BASE_UNET.items() if k not in ("up_block_types", "out_channels", "sample_size")},
                  addition_embed_type_num_heads=64, conditioning_channels=3, conditioning_embedding_out_channels=[16, 32, 96, 256],
                  controlnet_conditioning_channel_order="rgb", global_pool_conditions=False, upcast_attention=None)
VAE = dict(block_out_channels=[128, 256, 512, 512], down_block_types=["DownEncoderBlock2D"] * 4,
           up_block_types=["UpDecoderBlock2D"] * 4, latent_channels=4, layers_per_block=2, sample_size=1024,
           scaling_factor=0.13025, force_upcast=True)
CLIP_L = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12, hidden_act="quick_gelu",
              projection_dim=768, vocab_size=49408, max_position_embeddings=77, bos_token_id=0, eos_token_id=2, pad_token_id=1)
CLIP_G = dict(hidden_size=1280, intermediate_size=5120, num_attention_heads=20, num_hidden_layers=32, hidden_act="gelu",
              projection_dim=1280, vocab_size=49408, max_position_embeddings=77, bos_token_id=0, eos_token_id=2, pad_token_id=1)
SCHEDULER = dict(beta_end=0.012, beta_schedule="scaled_linear", beta_start=0.00085, interpolation_type="linear",
                 num_train_timesteps=1000, prediction_type="epsilon", steps_offset=1, timestep_spacing="leading")


def small_init(model, seed):
    """Random weights with a small spread, so activations stay finite through 40+ layers."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    return model


def save(model, folder, name):
    path = os.path.join(folder, name)
    model.to(torch.float16).save_pretrained(path, safe_serialization=True, variant="fp16", max_shard_size="10GB")
    print("wrote", path, flush=True)


def tokenizer(folder, name, pad):
    out = os.path.join(folder, name)
    os.makedirs(out, exist_ok=True)
    full = os.path.join(ROOT, "Tests", "Fixtures", "tokenizer-full")
    for file in ("vocab.json", "merges.txt"):
        with gzip.open(os.path.join(full, file + ".gz")) as src, open(os.path.join(out, file), "wb") as dst:
            shutil.copyfileobj(src, dst)
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": pad}
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump(special, f)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(dict(special, model_max_length=77, do_lower_case=True, tokenizer_class="CLIPTokenizer"), f)


def index(folder, refiner):
    components = {"scheduler": ["diffusers", "EulerDiscreteScheduler"],
                  "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"], "tokenizer_2": ["transformers", "CLIPTokenizer"],
                  "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}
    if not refiner:
        components.update(text_encoder=["transformers", "CLIPTextModel"], tokenizer=["transformers", "CLIPTokenizer"])
    body = dict(components, _class_name="StableDiffusionXLImg2ImgPipeline" if refiner else "StableDiffusionXLPipeline",
                force_zeros_for_empty_prompt=not refiner)
    if refiner:
        body["requires_aesthetics_score"] = True
    with open(os.path.join(folder, "model_index.json"), "w") as f:
        json.dump(body, f, indent=1)
    EulerDiscreteScheduler(**SCHEDULER).save_pretrained(os.path.join(folder, "scheduler"))


def written(folder):
    """A pipeline folder this script finished: index() writes model_index.json and the scheduler last."""
    return all(os.path.exists(os.path.join(folder, f)) for f in ("model_index.json", os.path.join("scheduler", "scheduler_config.json")))


def main():
    args = sys.argv[1:]
    flags = {"--base-only", "--controlnet", "--controlnet-only"}
    base_only, controlnet, controlnet_only = (f in args for f in ("--base-only", "--controlnet", "--controlnet-only"))
    args = [a for a in args if a not in flags]
    if len(args) != 1 or args[0].startswith("-") or (controlnet and controlnet_only):
        sys.exit(__doc__)
    out = os.path.abspath(args[0])
    if controlnet or controlnet_only:
        save(small_init(ControlNetModel(**CONTROLNET), 6), out, "controlnet-canny")
        if controlnet_only:
            return
    base, refiner = os.path.join(out, "sdxl-base"), os.path.join(out, "sdxl-refiner")
    if controlnet and written(base):
        print("kept", base, flush=True)
    else:
        os.makedirs(base, exist_ok=True)
        save(small_init(CLIPTextModel(CLIPTextConfig(**CLIP_L)), 1), base, "text_encoder")
        save(small_init(CLIPTextModelWithProjection(CLIPTextConfig(**CLIP_G)), 2), base, "text_encoder_2")
        save(small_init(AutoencoderKL(**VAE), 3), base, "vae")
        save(small_init(UNet2DConditionModel(**BASE_UNET), 4), base, "unet")
        tokenizer(base, "tokenizer", "<|endoftext|>")
        tokenizer(base, "tokenizer_2", "!")
        index(base, refiner=False)
    if base_only:
        return
    if controlnet and written(refiner):
        print("kept", refiner, flush=True)
        return
    os.makedirs(refiner, exist_ok=True)
    save(small_init(UNet2DConditionModel(**REFINER_UNET), 5), refiner, "unet")
    for shared in ("text_encoder_2", "vae"):
        shutil.copytree(os.path.join(base, shared), os.path.join(refiner, shared), dirs_exist_ok=True)
    tokenizer(refiner, "tokenizer_2", "!")
    index(refiner, refiner=True)


if __name__ == "__main__":
    torch.set_num_threads(2)
    main()
