"""Replacement UNets (`kiln render --unet`) and an LCM UNet with a guidance embedding
(`time_cond_proj_dim`), with whole tiny renders made by diffusers with `pipe.unet = other`.

Run by generate_fixtures.py --only unet_swap_fixtures (it passes its own module, whose tiny
model builders and key conversions this reuses). Writes:

  models/unets/swap-unet/              the tiny base's UNet architecture with other random weights,
                                       config.json + diffusion_pytorch_model.fp16.safetensors
                                       (the weights file alone is also a single file in diffusers'
                                       key layout, read with the pipeline's config)
  models/unets/lcm-unet/               a smaller UNet with time_cond_proj_dim 32 and random
                                       time_embedding.cond_proj weights, as latent-consistency/lcm-sdxl
  expected/unet-swap-sgm-names.json    diffusers name -> original SGM name (`model.diffusion_model.*`)
                                       of every swap-unet tensor: the tests write the SGM-layout
                                       single file from it (diffusers' from_single_file is checked
                                       to load that file to the same weights here)
  expected/unet-swap.json              the render cases
  expected/unet-swap-NAME.safetensors  pixels (uint8) and final latents (NCHW) of each case
"""
import json
import os
import tempfile

import torch
from safetensors.torch import load_file, save_file

SWAP_SEED = 31
LCM_SEED = 32
LCM_COND_DIM = 32

CASES = [
    # name, unet folder, scheduler class, scheduler overrides, call arguments, seed
    ("swap-euler-trailing-4", "swap-unet", "EulerDiscreteScheduler", {"timestep_spacing": "trailing"},
     {"prompt": "a lighthouse at dusk", "num_inference_steps": 4, "guidance_scale": 0.0, "width": 72, "height": 56}, 3),
    ("lcm-unet-guidance-8", "lcm-unet", "LCMScheduler", {},
     {"prompt": "a red fox in the snow", "negative_prompt": "ignored without guidance batches",
      "num_inference_steps": 4, "guidance_scale": 8.0, "width": 88, "height": 56}, 5),
]


def lcm_unet():
    """A small UNet that fits the tiny base's text encoders (cross_attention_dim 48, pooled 24 + 6 x 8
    micro-conditioning) with a guidance-scale embedding projected into the time embedding."""
    from diffusers import UNet2DConditionModel
    torch.manual_seed(LCM_SEED)
    return UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4, block_out_channels=(8, 16), layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        mid_block_type="UNetMidBlock2DCrossAttn", transformer_layers_per_block=1, attention_head_dim=(1, 2),
        use_linear_projection=True, cross_attention_dim=48, addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=24 + 6 * 8, norm_num_groups=4, norm_eps=1e-5, flip_sin_to_cos=True,
        freq_shift=0, act_fn="silu", time_cond_proj_dim=LCM_COND_DIM).eval()


def half_rounded(unet):
    """The UNet with every weight rounded to float16 and held in float32: what Kiln reads from the
    fp16 file, so both render with the same values."""
    with torch.no_grad():
        for p in unet.parameters():
            p.copy_(p.half().float())
    return unet


def main(g):
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel
    import diffusers
    base_dir = os.path.join(g.MODELS, "tiny-sdxl-base")
    unets = os.path.join(g.MODELS, "unets")
    os.makedirs(unets, exist_ok=True)

    swap = half_rounded(g.base_unet(seed=SWAP_SEED))
    swap.save_pretrained(os.path.join(unets, "swap-unet"), variant="fp16", safe_serialization=True)
    # save_pretrained(variant=) writes float32 values under the fp16 name; store them as float16.
    swap_file = os.path.join(unets, "swap-unet", "diffusion_pytorch_model.fp16.safetensors")
    save_file({k: v.half().contiguous() for k, v in swap.state_dict().items()}, swap_file, metadata={"format": "pt"})

    # The SGM names, and diffusers' own single-file loader reading them back to the same weights.
    sgm = g.original_unet_keys(swap)
    names = {}
    for sgm_name, tensor in sgm.items():
        matches = [k for k, v in swap.state_dict().items() if v.data_ptr() == tensor.data_ptr() and v.shape == tensor.shape]
        assert len(matches) == 1, sgm_name
        names[matches[0]] = sgm_name
    assert len(names) == len(swap.state_dict())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "swap-sgm.safetensors")
        save_file({k: v.half().contiguous() for k, v in sgm.items()}, path)
        loaded = UNet2DConditionModel.from_single_file(path, config=base_dir, subfolder="unet", dtype=torch.float32)
        for k, v in swap.state_dict().items():
            assert torch.equal(loaded.state_dict()[k], v), f"from_single_file: {k} differs"
    with open(os.path.join(g.EXPECTED, "unet-swap-sgm-names.json"), "w") as f:
        json.dump(names, f, indent=0, sort_keys=True)

    lcm = half_rounded(lcm_unet())
    lcm.save_pretrained(os.path.join(unets, "lcm-unet"), safe_serialization=True)
    # float16 on disk (a few kilobytes); diffusers reads it back as the float32 values above.
    lcm_file = os.path.join(unets, "lcm-unet", "diffusion_pytorch_model.safetensors")
    save_file({k: v.half().contiguous() for k, v in lcm.state_dict().items()}, lcm_file, metadata={"format": "pt"})
    assert "time_embedding.cond_proj.weight" in load_file(lcm_file)

    cases = []
    for name, folder, cls_name, overrides, args, seed in CASES:
        pipe = StableDiffusionXLPipeline.from_pretrained(base_dir, dtype=torch.float32, add_watermarker=False)
        pipe.unet = UNet2DConditionModel.from_pretrained(os.path.join(unets, folder), dtype=torch.float32,
                                                         variant="fp16" if folder == "swap-unet" else None)
        pipe.scheduler = getattr(diffusers, cls_name).from_config(pipe.scheduler.config, **overrides)
        pipe.set_progress_bar_config(disable=True)
        with torch.no_grad():
            pixels = pipe(**args, generator=torch.Generator("cpu").manual_seed(seed), output_type="np").images
            latents = pipe(**args, generator=torch.Generator("cpu").manual_seed(seed), output_type="latent").images
        g.save("unet-swap-" + name, {"pixels": torch.from_numpy((pixels * 255).round().astype("uint8")), "latents": latents})
        kiln = {"EulerDiscreteScheduler": "euler", "LCMScheduler": "lcm"}[cls_name]
        cases.append({"name": name, "unet": folder, "scheduler": kiln, "scheduler_config": overrides, "seed": seed,
                      "watermark": False, "args": args})
    with open(os.path.join(g.EXPECTED, "unet-swap.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)
