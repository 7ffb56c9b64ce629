"""ControlNet fixtures made by diffusers 0.42.1 (run by generate_fixtures.py --only controlnet_fixtures).

Writes:
  models/tiny-controlnet/      ControlNetModel.from_unet(tiny base UNet), every weight perturbed and the
                               zero convolutions (controlnet_down_blocks, controlnet_mid_block,
                               controlnet_cond_embedding.conv_out) given random weights: a fresh
                               ControlNet outputs zeros, so a test on one would pass with ControlNet ignored
  models/tiny-controlnet-2/    a second one, one transformer layer per block (the base has 1, 1, 2),
                               bgr channel order, saved as the fp16 variant only
  expected/controlnet-forward.safetensors  down and mid residuals (plain, guess mode, pooled) and the
                               UNet's prediction taking them
  images/control-*.png         odd-sized control images
  expected/controlnet-*.safetensors, controlnet-renders.json  StableDiffusionXLControlNetPipeline's
                               images on the tiny base (one and two ControlNets, windows, guess mode,
                               a control image resized to another output size) and Kiln's request
  expected/controlnet-inpaint-*.safetensors, controlnet-inpaint.json  StableDiffusionXLControlNetInpaintPipeline's
                               images on the 4-channel base and the 9-channel inpainting UNet, and Kiln's request
  expected/controlnet-refiner-*.safetensors, controlnet-refiner.json  a ControlNet pipeline's latents
                               (output_type="latent") finished by the tiny refiner without control
                               (inpainting: with the same mask), one generator through both calls,
                               and Kiln's request
"""
import os

import torch
from diffusers import ControlNetModel, UNet2DConditionModel

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "models")
EXPECTED = os.path.join(HERE, "expected")
EMBEDDING_CHANNELS = (4, 8, 8, 16)  # three stride-2 convolutions: the VAE's factor of 8


def randomize(controlnet, seed):
    """Perturbs every weight (so one copied from the UNet is not the UNet's) and gives the zero
    convolutions random values."""
    g = torch.Generator().manual_seed(seed)
    zero = [controlnet.controlnet_mid_block, controlnet.controlnet_cond_embedding.conv_out] + list(controlnet.controlnet_down_blocks)
    zero_ids = {id(p) for m in zero for p in m.parameters()}
    with torch.no_grad():
        for p in controlnet.parameters():
            if id(p) in zero_ids:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
            else:
                p.add_(torch.randn(p.shape, generator=g) * 0.02)
    return controlnet


def build_controlnets():
    unet = UNet2DConditionModel.from_pretrained(os.path.join(MODELS, "tiny-sdxl-base", "unet")).eval()
    torch.manual_seed(30)  # the conditioning embedding's first convolutions are initialised, not copied
    first = randomize(ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=EMBEDDING_CHANNELS), 31).eval()
    first.save_pretrained(os.path.join(MODELS, "tiny-controlnet"), safe_serialization=True)

    config = dict(unet.config)
    torch.manual_seed(32)
    second = ControlNetModel(
        in_channels=config["in_channels"], down_block_types=config["down_block_types"],
        block_out_channels=config["block_out_channels"], layers_per_block=config["layers_per_block"],
        transformer_layers_per_block=1, attention_head_dim=config["attention_head_dim"],
        use_linear_projection=True, cross_attention_dim=config["cross_attention_dim"],
        addition_embed_type="text_time", addition_time_embed_dim=config["addition_time_embed_dim"],
        projection_class_embeddings_input_dim=config["projection_class_embeddings_input_dim"],
        norm_num_groups=config["norm_num_groups"], conditioning_embedding_out_channels=EMBEDDING_CHANNELS,
        controlnet_conditioning_channel_order="bgr")
    second = randomize(second, 33).eval()
    folder = os.path.join(MODELS, "tiny-controlnet-2")
    second.to(torch.float16).save_pretrained(folder, safe_serialization=True, variant="fp16")
    return unet


@torch.no_grad()
def forward_fixture(save):
    unet = build_controlnets()
    first = ControlNetModel.from_pretrained(os.path.join(MODELS, "tiny-controlnet")).eval()
    second = ControlNetModel.from_pretrained(os.path.join(MODELS, "tiny-controlnet-2"), variant="fp16",
                                             dtype=torch.float32).eval()
    g = torch.Generator("cpu").manual_seed(12)
    sample = torch.randn(2, 4, 8, 6, generator=g)
    hidden = torch.randn(2, 9, unet.config.cross_attention_dim, generator=g)
    text_embeds = torch.randn(2, 24, generator=g)
    time_ids = torch.tensor([[128.0, 96.0, 0.0, 0.0, 128.0, 96.0], [64.0, 64.0, 16.0, 8.0, 128.0, 96.0]])
    cond_u8 = torch.randint(0, 256, (2, 3, 64, 48), generator=g, dtype=torch.uint8)
    cond = cond_u8.to(torch.float32) / 255
    timestep = torch.tensor(681.0)
    added = {"text_embeds": text_embeds, "time_ids": time_ids}
    out = {"sample": sample, "timestep": timestep.reshape(1), "encoder_hidden_states": hidden,
           "text_embeds": text_embeds, "time_ids": time_ids, "cond_u8": cond_u8}

    def run(net, prefix, **kwargs):
        down, mid = net(sample, timestep, encoder_hidden_states=hidden, controlnet_cond=cond,
                        added_cond_kwargs=added, return_dict=False, **kwargs)
        for i, d in enumerate(down):
            out[f"{prefix}.down.{i}"] = d
        out[f"{prefix}.mid"] = mid
        assert all(d.abs().max() > 1e-3 for d in down) and mid.abs().max() > 1e-3, "a zero residual"
        return down, mid

    down, mid = run(first, "plain", conditioning_scale=0.7)
    run(first, "guess", conditioning_scale=0.8, guess_mode=True)
    run(second, "second", conditioning_scale=1.3)
    first.register_to_config(global_pool_conditions=True)
    run(first, "pooled", conditioning_scale=0.6)
    out["unet_out"] = unet(sample, timestep, encoder_hidden_states=hidden, added_cond_kwargs=added,
                           down_block_additional_residuals=down, mid_block_additional_residual=mid).sample
    plain = unet(sample, timestep, encoder_hidden_states=hidden, added_cond_kwargs=added).sample
    assert (out["unet_out"] - plain).abs().max() > 1e-3, "the residuals change nothing"
    save("controlnet-forward", out)


def main(save):
    forward_fixture(save)
    render_fixtures(save)
    inpaint_fixtures(save)
    refiner_fixtures(save)


# ---------------------------------------------------------------- whole renders
PROMPT = "a lighthouse on a cliff at dusk"
IMAGES = os.path.join(HERE, "images")
RENDER_CASES = [
    # name, seed, diffusers call arguments besides prompt (controlnet names the models, image the files)
    ("one", 51, {"controlnet": ["tiny-controlnet"], "image": ["control-edges-75x61.png"], "controlnet_conditioning_scale": 0.8,
                 "num_inference_steps": 6}),
    ("two", 52, {"controlnet": ["tiny-controlnet", "tiny-controlnet-2"],
                 "image": ["control-edges-75x61.png", "control-shapes-75x61.png"],
                 "controlnet_conditioning_scale": [0.6, 1.1], "num_inference_steps": 5}),
    ("window", 53, {"controlnet": ["tiny-controlnet"], "image": ["control-shapes-75x61.png"], "control_guidance_start": 0.25,
                    "control_guidance_end": 0.7, "num_inference_steps": 8}),
    ("two-windows", 54, {"controlnet": ["tiny-controlnet", "tiny-controlnet-2"],
                         "image": ["control-shapes-75x61.png", "control-edges-75x61.png"], "controlnet_conditioning_scale": 0.9,
                         "control_guidance_start": [0.0, 0.5], "control_guidance_end": [0.3, 1.0], "num_inference_steps": 6}),
    ("guess", 55, {"controlnet": ["tiny-controlnet"], "image": ["control-edges-75x61.png"], "guess_mode": True,
                   "guidance_scale": 4.0, "num_inference_steps": 5}),
    ("guess-two-images", 57, {"controlnet": ["tiny-controlnet", "tiny-controlnet-2"],
                              "image": ["control-edges-75x61.png", "control-shapes-75x61.png"], "guess_mode": True,
                              "num_images_per_prompt": 2, "num_inference_steps": 4, "width": 64, "height": 48}),
    ("resized", 56, {"controlnet": ["tiny-controlnet-2"], "image": ["control-edges-75x61.png"], "width": 56, "height": 88,
                     "num_inference_steps": 5, "negative_prompt": "fog"}),
]


IMG2IMG_CASES = [
    # name, seed, call arguments besides prompt: image is the input image, control_image the control images
    ("img2img", 61, {"controlnet": ["tiny-controlnet"], "image": "input-photo-88x72.jpg",
                     "control_image": ["control-edges-88x72.png"], "num_inference_steps": 6}),
    ("img2img-two-guess", 62, {"controlnet": ["tiny-controlnet", "tiny-controlnet-2"], "image": "input-photo-88x72.jpg",
                               "control_image": ["control-edges-88x72.png", "control-shapes-88x72.png"], "guess_mode": True,
                               "strength": 0.5, "controlnet_conditioning_scale": [0.7, 1.2], "control_guidance_end": 0.6,
                               "num_inference_steps": 8}),
]


def control_images():
    """Odd-sized control images, as an edge detector and a segmentation map would give them:
    white edges on black (grayscale PNG) and flat-colored shapes (RGB PNG)."""
    from PIL import Image, ImageDraw
    edges = Image.new("L", (75, 61), 0)
    d = ImageDraw.Draw(edges)
    d.line([(5, 50), (37, 8), (70, 50)], fill=255, width=1)
    d.rectangle([24, 30, 50, 58], outline=255)
    d.ellipse([55, 5, 70, 20], outline=255)
    edges.save(os.path.join(IMAGES, "control-edges-75x61.png"))
    shapes = Image.new("RGB", (75, 61), (20, 40, 90))
    d = ImageDraw.Draw(shapes)
    d.rectangle([0, 40, 74, 60], fill=(120, 200, 60))
    d.polygon([(10, 40), (30, 12), (52, 40)], fill=(230, 90, 30))
    d.ellipse([50, 6, 68, 24], fill=(250, 240, 120))
    shapes.save(os.path.join(IMAGES, "control-shapes-75x61.png"))
    # The input photo's size, for image-to-image (diffusers takes the output size from the control image).
    edges.resize((88, 72), Image.NEAREST).save(os.path.join(IMAGES, "control-edges-88x72.png"))
    shapes.resize((88, 72), Image.NEAREST).save(os.path.join(IMAGES, "control-shapes-88x72.png"))


def kiln_request(seed, args):
    """The Kiln request of a case (RenderRequest's coding), control images by SHA-256."""
    import hashlib

    def listed(v):
        return v if isinstance(v, list) else [v]

    def reference(file):
        with open(os.path.join(IMAGES, file), "rb") as f:
            return {"sha256": hashlib.sha256(f.read()).hexdigest(), "file": file}

    controls = args["control_image"] if "control_image" in args else args["image"]
    control = {"controlnet": args["controlnet"], "image": [reference(f) for f in controls]}
    for key in ("controlnet_conditioning_scale", "control_guidance_start", "control_guidance_end"):
        if key in args:
            control[key] = listed(args[key])
    if args.get("guess_mode"):
        control["guess_mode"] = True
    request = {"version": 3, "prompt": PROMPT, "seed": seed, "watermark": False, "controlnet": control}
    for key in ("num_inference_steps", "guidance_scale", "width", "height", "negative_prompt", "num_images_per_prompt", "strength"):
        if key in args:
            request[key] = args[key]
    if "control_image" in args:
        request["image"] = reference(args["image"])
    return request


@torch.no_grad()
def render_fixtures(save):
    import json
    from diffusers import StableDiffusionXLControlNetPipeline
    from diffusers.utils import load_image
    control_images()
    cases = []
    for name, seed, args in RENDER_CASES:
        nets = [ControlNetModel.from_pretrained(os.path.join(MODELS, n), dtype=torch.float32,
                                                **({"variant": "fp16"} if n.endswith("-2") else {})) for n in args["controlnet"]]
        pipe = StableDiffusionXLControlNetPipeline.from_pretrained(
            os.path.join(MODELS, "tiny-sdxl-base"), controlnet=nets[0] if len(nets) == 1 else nets,
            dtype=torch.float32, add_watermarker=False)
        pipe.set_progress_bar_config(disable=True)
        call = {k: v for k, v in args.items() if k != "controlnet"}
        images = [load_image(os.path.join(IMAGES, f)) for f in args["image"]]
        call["image"] = images[0] if len(images) == 1 else images
        out = pipe(prompt=PROMPT, **call, generator=torch.Generator("cpu").manual_seed(seed), output_type="np").images
        save("controlnet-" + name, {"pixels": torch.from_numpy((out * 255).round().astype("uint8"))})
        cases.append({"name": name, "request": kiln_request(seed, args)})
    from diffusers import StableDiffusionXLControlNetImg2ImgPipeline
    for name, seed, args in IMG2IMG_CASES:
        nets = [ControlNetModel.from_pretrained(os.path.join(MODELS, n), dtype=torch.float32,
                                                **({"variant": "fp16"} if n.endswith("-2") else {})) for n in args["controlnet"]]
        pipe = StableDiffusionXLControlNetImg2ImgPipeline.from_pretrained(
            os.path.join(MODELS, "tiny-sdxl-base"), controlnet=nets[0] if len(nets) == 1 else nets,
            dtype=torch.float32, add_watermarker=False)
        pipe.set_progress_bar_config(disable=True)
        call = {k: v for k, v in args.items() if k not in ("controlnet", "image", "control_image")}
        controls = [load_image(os.path.join(IMAGES, f)) for f in args["control_image"]]
        call["control_image"] = controls[0] if len(controls) == 1 else controls
        call["image"] = load_image(os.path.join(IMAGES, args["image"]))
        out = pipe(prompt=PROMPT, **call, generator=torch.Generator("cpu").manual_seed(seed), output_type="np").images
        save("controlnet-" + name, {"pixels": torch.from_numpy((out * 255).round().astype("uint8"))})
        cases.append({"name": name, "request": kiln_request(seed, args)})
    with open(os.path.join(EXPECTED, "controlnet-renders.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------- with the refiner
# As diffusers' users chain them: the ControlNet pipeline hands its latents (output_type="latent")
# to StableDiffusionXLImg2ImgPipeline with the refiner, which runs without control; one
# torch.Generator passed to both calls. The text-to-image and inpainting ControlNet pipelines take
# denoising_end (ensemble of experts); the image-to-image one does not, so it only runs base then refiner.
REFINER_CASES = [
    # name, seed, scheduler, ControlNet pipeline ("text2img"/"img2img") and its call arguments,
    # Kiln's refiner fields, the refiner's call arguments
    ("refiner-after", 71, "euler-a", "text2img",
     {"controlnet": ["tiny-controlnet"], "image": ["control-edges-75x61.png"], "controlnet_conditioning_scale": 0.8,
      "num_inference_steps": 8},
     {"refine_after": True, "refiner_strength": 0.4}, {"num_inference_steps": 8, "strength": 0.4}),
    # The windows count over the whole schedule (controlnet_keep is made before the denoising_end cut).
    ("refiner-ensemble", 72, "euler-a", "text2img",
     {"controlnet": ["tiny-controlnet", "tiny-controlnet-2"], "image": ["control-edges-75x61.png", "control-shapes-75x61.png"],
      "controlnet_conditioning_scale": [0.7, 1.2], "control_guidance_start": [0.0, 0.1], "control_guidance_end": [0.6, 1.0],
      "num_inference_steps": 10, "width": 64, "height": 48, "denoising_end": 0.7},
     {"high_noise_frac": 0.7}, {"num_inference_steps": 10, "denoising_start": 0.7}),
    ("img2img-refiner-after", 73, "euler", "img2img",
     {"controlnet": ["tiny-controlnet"], "image": "input-photo-88x72.jpg", "control_image": ["control-edges-88x72.png"],
      "num_inference_steps": 6, "num_images_per_prompt": 2},
     {"refine_after": True, "refiner_strength": 0.3}, {"num_inference_steps": 6, "strength": 0.3, "num_images_per_prompt": 2}),
    # StableDiffusionXLControlNetInpaintPipeline takes denoising_end: both ways, the refiner as
    # StableDiffusionXLInpaintPipeline with the same mask. The guidance is given to both calls (the
    # ControlNet inpainting pipeline's default is 5.0, the inpainting pipeline's 7.5).
    ("inpaint-refiner-ensemble", 74, "euler", "inpaint",
     {"controlnet": ["tiny-controlnet"], "image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png",
      "control_image": ["control-edges-88x72.png"], "control_guidance_end": 0.5, "guidance_scale": 6.0,
      "num_inference_steps": 10, "denoising_end": 0.75},
     {"high_noise_frac": 0.75}, {"mask_image": "mask-rgb-88x72.png", "guidance_scale": 6.0, "num_inference_steps": 10,
                                 "width": 88, "height": 72, "denoising_start": 0.75}),
    ("inpaint-refiner-after", 75, "euler-a", "inpaint",
     {"controlnet": ["tiny-controlnet"], "image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png",
      "control_image": ["control-shapes-88x72.png"], "guidance_scale": 7.5, "num_inference_steps": 8},
     {"refine_after": True, "refiner_strength": 0.3}, {"mask_image": "mask-rgb-88x72.png", "guidance_scale": 7.5,
                                                         "num_inference_steps": 8, "width": 88, "height": 72, "strength": 0.3}),
]


@torch.no_grad()
def refiner_fixtures(save):
    import json
    import diffusers
    import hashlib
    from diffusers import (StableDiffusionXLControlNetImg2ImgPipeline, StableDiffusionXLControlNetInpaintPipeline,
                           StableDiffusionXLControlNetPipeline, StableDiffusionXLImg2ImgPipeline,
                           StableDiffusionXLInpaintPipeline)
    from diffusers.utils import load_image
    schedulers = {"euler": "EulerDiscreteScheduler", "euler-a": "EulerAncestralDiscreteScheduler"}
    classes = {"text2img": StableDiffusionXLControlNetPipeline, "img2img": StableDiffusionXLControlNetImg2ImgPipeline,
               "inpaint": StableDiffusionXLControlNetInpaintPipeline}
    cases = []
    for name, seed, scheduler, kind, args, fields, refiner_args in REFINER_CASES:
        nets = [ControlNetModel.from_pretrained(os.path.join(MODELS, n), dtype=torch.float32,
                                                **({"variant": "fp16"} if n.endswith("-2") else {})) for n in args["controlnet"]]
        pipe = classes[kind].from_pretrained(os.path.join(MODELS, "tiny-sdxl-base"), controlnet=nets[0] if len(nets) == 1 else nets,
                                             dtype=torch.float32, add_watermarker=False)
        refiner_class = StableDiffusionXLInpaintPipeline if kind == "inpaint" else StableDiffusionXLImg2ImgPipeline
        refiner = refiner_class.from_pretrained(os.path.join(MODELS, "tiny-sdxl-refiner"), dtype=torch.float32, add_watermarker=False)
        for p in (pipe, refiner):
            p.scheduler = getattr(diffusers, schedulers[scheduler]).from_config(p.scheduler.config)
            p.set_progress_bar_config(disable=True)
        call = {k: v for k, v in args.items() if k not in ("controlnet", "image", "control_image", "mask_image")}
        refiner_call = {k: (load_image(os.path.join(IMAGES, v)) if k == "mask_image" else v) for k, v in refiner_args.items()}
        if "mask_image" in args:
            call["mask_image"] = load_image(os.path.join(IMAGES, args["mask_image"]))
        if kind != "text2img":
            controls = [load_image(os.path.join(IMAGES, f)) for f in args["control_image"]]
            call["control_image"] = controls[0] if len(controls) == 1 else controls
            call["image"] = load_image(os.path.join(IMAGES, args["image"]))
        else:
            controls = [load_image(os.path.join(IMAGES, f)) for f in args["image"]]
            call["image"] = controls[0] if len(controls) == 1 else controls
        g = torch.Generator("cpu").manual_seed(seed)
        latents = pipe(prompt=PROMPT, **call, generator=g, output_type="latent").images
        out = refiner(prompt=PROMPT, **refiner_call, image=latents, generator=g, output_type="np").images
        save("controlnet-" + name, {"pixels": torch.from_numpy((out * 255).round().astype("uint8"))})
        request = kiln_request(seed, {k: v for k, v in args.items() if k not in ("denoising_end", "mask_image")})
        if "mask_image" in args:
            with open(os.path.join(IMAGES, args["mask_image"]), "rb") as f:
                request["mask_image"] = {"sha256": hashlib.sha256(f.read()).hexdigest(), "file": args["mask_image"]}
        request.update(fields, refiner="tiny-sdxl-refiner", scheduler=scheduler)
        cases.append({"name": name, "request": request})
    with open(os.path.join(EXPECTED, "controlnet-refiner.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------- inpainting
# StableDiffusionXLControlNetInpaintPipeline on the 4-channel base and the 9-channel inpainting UNet.
# Its defaults are the plain inpainting pipeline's strength (0.9999) but guidance 5.0 (not 7.5) and
# conditioning scale 1.0; it sizes the output by the input image (not the UNet's sample_size) and the
# control image by itself, so both are the input's size here; padding_mask_crop crops the control
# image as the input; controlnet_keep counts the steps after the strength or denoising_start cut,
# before denoising_end's; the ControlNets get the 4-channel latents.
INPAINT_CASES = [
    # name, seed, model, call arguments besides prompt (image, mask_image, control_image: files)
    ("inpaint", 81, "tiny-sdxl-base",
     {"controlnet": ["tiny-controlnet"], "image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png",
      "control_image": ["control-edges-88x72.png"], "num_inference_steps": 6}),
    ("inpaint-9ch-two-guess", 82, "tiny-sdxl-inpaint",
     {"controlnet": ["tiny-controlnet", "tiny-controlnet-2"], "image": "input-photo-88x72.jpg",
      "mask_image": "mask-rgb-88x72.png", "control_image": ["control-edges-88x72.png", "control-shapes-88x72.png"],
      "guess_mode": True, "strength": 0.7, "controlnet_conditioning_scale": [0.9, 1.3], "control_guidance_start": 0.2,
      "control_guidance_end": 0.8, "guidance_rescale": 0.4, "num_inference_steps": 8}),
    ("inpaint-crop", 83, "tiny-sdxl-base",
     {"controlnet": ["tiny-controlnet-2"], "image": "input-photo-88x72.jpg", "mask_image": "crop-mask-dot-88x72.png",
      "control_image": ["control-shapes-88x72.png"], "padding_mask_crop": 8, "strength": 1.0, "num_inference_steps": 5}),
    ("inpaint-9ch-crop", 85, "tiny-sdxl-inpaint",
     {"controlnet": ["tiny-controlnet"], "image": "input-photo-88x72.jpg", "mask_image": "crop-mask-dot-88x72.png",
      "control_image": ["control-edges-88x72.png"], "padding_mask_crop": 12, "controlnet_conditioning_scale": 1.5,
      "num_inference_steps": 5}),
    ("inpaint-start-end", 84, "tiny-sdxl-base",
     {"controlnet": ["tiny-controlnet", "tiny-controlnet-2"], "image": "input-photo-88x72.jpg",
      "mask_image": "mask-rgb-88x72.png", "control_image": ["control-shapes-88x72.png", "control-edges-88x72.png"],
      "denoising_start": 0.2, "denoising_end": 0.8, "control_guidance_start": [0.0, 0.3], "control_guidance_end": [0.5, 1.0],
      "guidance_scale": 6.0, "num_inference_steps": 10}),
    # A ControlNet with global_pool_conditions: the other SDXL ControlNet pipelines then force guess
    # mode, this one does not (the ControlNet still pools its residuals).
    ("inpaint-pooled", 86, "tiny-sdxl-base",
     {"controlnet": ["tiny-controlnet"], "image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png",
      "control_image": ["control-edges-88x72.png"], "global_pool_conditions": True, "num_inference_steps": 5}),
]


@torch.no_grad()
def inpaint_fixtures(save):
    import hashlib
    import json
    import numpy as np
    from diffusers import StableDiffusionXLControlNetInpaintPipeline
    from diffusers.utils import load_image
    cases = []
    for name, seed, model, args in INPAINT_CASES:
        nets = [ControlNetModel.from_pretrained(os.path.join(MODELS, n), dtype=torch.float32,
                                                **({"variant": "fp16"} if n.endswith("-2") else {})) for n in args["controlnet"]]
        pipe = StableDiffusionXLControlNetInpaintPipeline.from_pretrained(
            os.path.join(MODELS, model), controlnet=nets[0] if len(nets) == 1 else nets, dtype=torch.float32,
            add_watermarker=False)
        pipe.set_progress_bar_config(disable=True)
        pooled = args.get("global_pool_conditions", False)
        for net in nets:
            net.register_to_config(global_pool_conditions=pooled)
        call = {k: v for k, v in args.items() if k not in ("controlnet", "image", "mask_image", "control_image",
                                                           "global_pool_conditions")}
        controls = [load_image(os.path.join(IMAGES, f)) for f in args["control_image"]]
        call["control_image"] = controls[0] if len(controls) == 1 else controls
        call["image"] = load_image(os.path.join(IMAGES, args["image"]))
        call["mask_image"] = load_image(os.path.join(IMAGES, args["mask_image"]))
        # padding_mask_crop needs PIL output (the crop is pasted back onto the input); with denoising_end
        # Kiln returns the latents, as a base stage handing over to a refiner.
        pil, latent = "padding_mask_crop" in args, "denoising_end" in args
        out = pipe(prompt=PROMPT, **call, generator=torch.Generator("cpu").manual_seed(seed),
                   output_type="latent" if latent else "pil" if pil else "np").images
        if latent:
            save("controlnet-" + name, {"latents": out})
        else:
            pixels = np.stack([np.asarray(i.convert("RGB")) for i in out]) if pil else (out * 255).round().astype("uint8")
            save("controlnet-" + name, {"pixels": torch.from_numpy(pixels)})
        request = kiln_request(seed, {k: v for k, v in args.items() if k not in ("mask_image", "global_pool_conditions")})
        with open(os.path.join(IMAGES, args["mask_image"]), "rb") as f:
            request["mask_image"] = {"sha256": hashlib.sha256(f.read()).hexdigest(), "file": args["mask_image"]}
        for key in ("padding_mask_crop", "denoising_start", "denoising_end", "guidance_rescale"):
            if key in args:
                request[key] = args[key]
        # pooled: the test gives Kiln the ControlNets with global_pool_conditions set in config.json.
        cases.append({"name": name, "model": model, "request": request, **({"pooled": True} if pooled else {})})
    with open(os.path.join(EXPECTED, "controlnet-inpaint.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)
