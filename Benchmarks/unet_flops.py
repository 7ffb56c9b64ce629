"""The arithmetic of one guided SDXL step and of the VAE decode, as PyTorch counts it, for the
bound in README's Benchmark section (issue 22): how many floating-point operations a UNet
forward takes at a size, by operation kind and by block, with no weights and no arithmetic
(the models are built on torch's meta device, so this runs in seconds on any machine).

    .venv-fixtures/bin/python Benchmarks/unet_flops.py MODEL_DIR [--size 1024] [--batch 2] [--json FILE]

MODEL_DIR is a diffusers SDXL folder (only unet/config.json and vae/config.json are read),
e.g. one Benchmarks/full_size_models.py writes. Batch 2 is a step with classifier-free
guidance. torch.utils.flop_counter counts 2 m n k per matrix product and convolution tap
(direct convolution: what PyTorch runs; Kiln's Winograd convolutions execute fewer, and
KilnBenchmark's `gflop` column reports what Kiln executes).
"""
import argparse
import collections
import json

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from torch.utils.flop_counter import FlopCounterMode

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("--size", type=int, default=1024)
parser.add_argument("--batch", type=int, default=2)
parser.add_argument("--json")
args = parser.parse_args()
if args.size % 8 or args.size <= 0:
    parser.error(f"--size takes pixels, a positive multiple of 8, not {args.size}")


def counted(call):
    counter = FlopCounterMode(display=False, depth=None)
    with counter:
        call()
    return counter


unet_config = UNet2DConditionModel.load_config(f"{args.model}/unet")
vae_config = AutoencoderKL.load_config(f"{args.model}/vae")
latent = args.size // 8
with torch.device("meta"):
    unet = UNet2DConditionModel.from_config(unet_config)
    vae = AutoencoderKL.from_config(vae_config)
    b = args.batch
    sample = torch.randn(b, unet.config.in_channels, latent, latent)
    text = torch.randn(b, 77, unet.config.cross_attention_dim)
    added = {"text_embeds": torch.randn(b, unet.config.projection_class_embeddings_input_dim - 6 * 256),
             "time_ids": torch.randn(b, 6)}
    unet_count = counted(lambda: unet(sample, torch.full((b,), 500.0), encoder_hidden_states=text, added_cond_kwargs=added))
    vae_count = counted(lambda: vae.decode(torch.randn(1, vae.config.latent_channels, latent, latent)))


def by_kind(counter, module):
    return {str(op).split(".")[-1]: n for op, n in counter.get_flop_counts().get(module, {}).items()}


result = {"size": args.size, "batch": args.batch,
          "unet_tflop": unet_count.get_total_flops() / 1e12,
          "unet_by_kind_tflop": {k: v / 1e12 for k, v in by_kind(unet_count, "Global").items()},
          "unet_by_block_tflop": {},
          "vae_decode_tflop": vae_count.get_total_flops() / 1e12}
blocks = [f"down_blocks.{i}" for i in range(len(unet.down_blocks))] + ["mid_block"] + \
         [f"up_blocks.{i}" for i in range(len(unet.up_blocks))]
for name in blocks:
    result["unet_by_block_tflop"][name] = {k: v / 1e12 for k, v in by_kind(unet_count, f"UNet2DConditionModel.{name}").items()}

total = result["unet_tflop"]
print(f"UNet forward, batch {args.batch}, {args.size} px: {total:.3f} TFLOP")
for kind, n in sorted(result["unet_by_kind_tflop"].items(), key=lambda kv: -kv[1]):
    print(f"  {kind:14} {n:7.3f} TFLOP  {100 * n / total:5.1f}%")
for name, kinds in result["unet_by_block_tflop"].items():
    print(f"  {name:14} " + ", ".join(f"{k} {v:.3f}" for k, v in kinds.items() if v > 0))
print(f"VAE decode, 1 image, {args.size} px: {result['vae_decode_tflop']:.3f} TFLOP")
if args.json:
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
