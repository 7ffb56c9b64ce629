"""`kiln render --vae PATH` against diffusers with `pipe.vae = other_vae`, on the tiny SDXL base.

Writes, with random weights unlike the pipeline's own VAE:
- models/vae-kl-tiny/: an AutoencoderKL folder as madebyollin/sdxl-vae-fp16-fix ships it
  (config.json + diffusion_pytorch_model.fp16.safetensors only), loaded by diffusers with
  variant="fp16" into a float32 model;
- models/vae-kl-tiny-original.safetensors: the same weights in the original
  `encoder.*`/`decoder.*`/`quant_conv` layout that sdxl.vae.safetensors uses (no prefix; float16
  to stay small), checked to convert back to the folder's weights with diffusers' own
  single-file conversion; its config is the pipeline VAE's, as `--vae FILE` reads it with;
- models/vae-tiny-taesd/: an AutoencoderTiny folder as madebyollin/taesdxl ships it;
- expected/vae-tiny.safetensors: the AutoencoderTiny's encoder and decoder on odd sizes;
- expected/render-vae-swap.safetensors + renders-vae-swap.json: whole renders (pixels).
Run through generate_fixtures.py --only vae_swap_fixtures.
"""
import json
import os

import torch
from diffusers import (AutoencoderKL, AutoencoderTiny, EulerAncestralDiscreteScheduler, StableDiffusionXLImg2ImgPipeline,
                       StableDiffusionXLInpaintPipeline, StableDiffusionXLPipeline)
from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint
from diffusers.utils import load_image
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "models")
EXPECTED = os.path.join(HERE, "expected")
BASE = os.path.join(MODELS, "tiny-sdxl-base")
KL_FOLDER = os.path.join(MODELS, "vae-kl-tiny")
KL_FILE = os.path.join(MODELS, "vae-kl-tiny-original.safetensors")
TINY_FOLDER = os.path.join(MODELS, "vae-tiny-taesd")

PROMPT = "a red boat on a green lake"
# name, pipeline, VAE, call arguments, seed. Odd, non-square sizes (13 x 9 latents and 11 x 7).
CASES = [
    ("kl-text2img-104x72", "text2img", "kl", {"width": 104, "height": 72, "num_inference_steps": 3, "guidance_scale": 5.0}, 61),
    ("kl-img2img-88x72", "img2img", "kl", {"image": "input-photo-88x72.jpg", "strength": 0.7, "num_inference_steps": 4,
                                            "guidance_scale": 5.0}, 62),
    ("tiny-text2img-88x56", "text2img", "tiny", {"width": 88, "height": 56, "num_inference_steps": 3, "guidance_scale": 5.0}, 63),
    ("tiny-img2img-88x72", "img2img", "tiny", {"image": "input-photo-88x72.jpg", "strength": 0.6, "num_inference_steps": 5,
                                                "guidance_scale": 4.0}, 64),
    # Inpainting with the 4-channel base: the image and the masked image encoded by the tiny VAE
    # (no generator draws, which Euler Ancestral's per-step noise would show); the ensemble of
    # experts: the refiner decodes with the swapped VAE too.
    ("tiny-inpaint-88x72", "inpaint", "tiny", {"image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png", "width": 88, "height": 72,
                                               "strength": 0.8, "num_inference_steps": 4, "guidance_scale": 5.0,
                                               "scheduler": "euler-a"}, 65),
    ("kl-refiner-96x64", "ensemble", "kl", {"width": 96, "height": 64, "num_inference_steps": 4, "guidance_scale": 5.0,
                                            "high_noise_frac": 0.5}, 66),
]
REFINER = os.path.join(MODELS, "tiny-sdxl-refiner")


def save(name, tensors):
    save_file({k: v.detach().contiguous() for k, v in tensors.items()}, os.path.join(EXPECTED, name + ".safetensors"))


def original_vae_keys(state):
    """diffusers AutoencoderKL names -> the original layout (sdxl.vae.safetensors), no prefix."""
    n = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("decoder.up_blocks."))
    out = {}
    for name, tensor in state.items():
        key = name.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
        parts = key.split(".")
        if len(parts) > 2 and parts[1] == "down_blocks":
            kind = "block" if parts[3] == "resnets" else "downsample"
            rest = parts[4:] if parts[3] == "resnets" else parts[5:]
            key = f"{parts[0]}.down.{parts[2]}.{kind}.{'.'.join(rest)}"
        elif len(parts) > 2 and parts[1] == "up_blocks":
            kind = "block" if parts[3] == "resnets" else "upsample"
            rest = parts[4:] if parts[3] == "resnets" else parts[5:]
            key = f"{parts[0]}.up.{n - 1 - int(parts[2])}.{kind}.{'.'.join(rest)}"
        elif len(parts) > 2 and parts[1] == "mid_block":
            if parts[2] == "resnets":
                key = f"{parts[0]}.mid.block_{int(parts[3]) + 1}.{'.'.join(parts[4:])}"
            else:
                rest = ".".join(parts[4:])
                for new, old in [("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")]:
                    if rest.startswith(new + "."):
                        rest = old + rest[len(new):]
                key = f"{parts[0]}.mid.attn_1.{rest}"
                if tensor.ndim == 2:  # stored as 1x1 convolutions there
                    tensor = tensor[:, :, None, None]
        out[key] = tensor.contiguous()
    return out


def make_kl():
    torch.manual_seed(41)
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 16, 16, 16), layers_per_block=1, norm_num_groups=4,
        sample_size=128, scaling_factor=0.13025, force_upcast=False).eval()
    # A wider range of latents than the random init gives, so the swap shows in the pixels.
    with torch.no_grad():
        vae.post_quant_conv.weight.mul_(3.0)
    vae.to(torch.float16).save_pretrained(KL_FOLDER, variant="fp16")
    loaded = AutoencoderKL.from_pretrained(KL_FOLDER, variant="fp16", dtype=torch.float32).eval()
    state = loaded.state_dict()
    base_config = AutoencoderKL.load_config(os.path.join(BASE, "vae"))
    assert all(base_config[k] == loaded.config[k] for k in ("block_out_channels", "layers_per_block", "norm_num_groups",
                                                             "latent_channels", "scaling_factor")), "a single file reads the base VAE's config"
    original = original_vae_keys({k: v.half() for k, v in state.items()})
    save_file(original, KL_FILE)
    converted = {k: v.float() for k, v in convert_ldm_vae_checkpoint(original, loaded.config).items()}
    assert set(converted) == set(state), "original layout keys round trip"
    for k, v in state.items():
        assert torch.equal(converted[k].reshape(v.shape), v), k
    return loaded


def make_tiny():
    torch.manual_seed(42)
    vae = AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        num_encoder_blocks=(1, 2, 2, 2), num_decoder_blocks=(2, 2, 2, 1), latent_channels=4).eval()
    # Random weights leave the decoder's output in a narrow band; its last convolution is set so
    # the pixels spread over [0, 1] and the parity tests compare real images, not clamped ones.
    with torch.no_grad():
        last = vae.decoder.layers[-1]
        raw = (vae.decoder(torch.randn(4, 4, 12, 12, generator=torch.Generator("cpu").manual_seed(44)) * 2) + 1) / 2
        mean, std = raw.mean(dim=(0, 2, 3)), raw.std(dim=(0, 2, 3))
        last.weight.mul_((0.25 / std)[:, None, None, None])
        last.bias.copy_((last.bias - mean) * 0.25 / std + 0.5)
    vae.save_pretrained(TINY_FOLDER)
    return AutoencoderTiny.from_pretrained(TINY_FOLDER, dtype=torch.float32).eval()


@torch.no_grad()
def tiny_component(tiny):
    g = torch.Generator("cpu").manual_seed(43)
    image = torch.rand(1, 3, 44, 60, generator=g) * 2 - 1
    latents = torch.randn(2, 4, 7, 11, generator=g) * 2
    encoded = tiny.encode(image).latents
    decoded = tiny.decode(latents).sample
    print("tiny VAE: encoded", tuple(encoded.shape), "decoded range", float(decoded.min()), float(decoded.max()))
    save("vae-tiny", {"image": image, "encoded": encoded, "latents": latents, "decoded": decoded})


@torch.no_grad()
def renders(vaes):
    pixels, cases = {}, []
    classes = {"text2img": StableDiffusionXLPipeline, "ensemble": StableDiffusionXLPipeline,
               "img2img": StableDiffusionXLImg2ImgPipeline, "inpaint": StableDiffusionXLInpaintPipeline}

    def run(kind, call, seed, vae):
        pipe = classes[kind].from_pretrained(BASE, dtype=torch.float32, add_watermarker=False)
        if call.pop("scheduler", None) == "euler-a":
            pipe.scheduler = EulerAncestralDiscreteScheduler.from_config(pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)
        if vae is not None:
            pipe.vae = vae
        g = torch.Generator("cpu").manual_seed(seed)
        if kind != "ensemble":
            return pipe(**call, generator=g, output_type="np").images
        # base then refiner on one generator, both with the swapped VAE (the refiner decodes)
        frac = call.pop("high_noise_frac")
        latents = pipe(**call, denoising_end=frac, generator=g, output_type="latent").images
        refiner = StableDiffusionXLImg2ImgPipeline.from_pretrained(REFINER, dtype=torch.float32, add_watermarker=False)
        refiner.set_progress_bar_config(disable=True)
        if vae is not None:
            refiner.vae = vae
        return refiner(prompt=call["prompt"], image=latents, num_inference_steps=call["num_inference_steps"],
                       guidance_scale=call["guidance_scale"], denoising_start=frac, generator=g, output_type="np").images

    for name, kind, which, args, seed in CASES:
        def call():
            c = dict(args, prompt=PROMPT)
            for key in ("image", "mask_image"):
                if key in c:
                    c[key] = load_image(os.path.join(HERE, "images", c[key]))
            return c
        out = run(kind, call(), seed, vaes[which])
        pixels[name] = torch.from_numpy((out * 255).round().astype("uint8"))
        mine = run(kind, call(), seed, None)
        diff = abs(out - mine).max() * 255
        print(f"{name}: differs from the pipeline's own VAE by up to {diff:.0f} levels")
        assert diff > 8, f"{name}: the swapped VAE must change the image"
        cases.append({"name": name, "pipeline": kind, "vae": which, "seed": seed, "prompt": PROMPT, "args": args})
    save("render-vae-swap", pixels)
    with open(os.path.join(EXPECTED, "renders-vae-swap.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


def main():
    kl = make_kl()
    tiny = make_tiny()
    tiny_component(tiny)
    renders({"kl": kl, "tiny": tiny})
