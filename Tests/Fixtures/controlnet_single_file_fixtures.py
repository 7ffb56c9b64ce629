"""Single-file ControlNets and the ControlNet forward in bfloat16, made by diffusers 0.42.1
(run by generate_fixtures.py --only controlnet_single_file_fixtures; reads models/tiny-controlnet
and expected/controlnet-forward.safetensors, written by controlnet_fixtures.py).

Writes:
  models/tiny-controlnet-original.safetensors  tiny-controlnet in the original ControlNet layout
                               (`control_model.input_blocks.*`, `zero_convs.*`, `input_hint_block.*`,
                               `middle_block_out.*`, `label_emb.*`), as the ControlNet/sgm code saves
                               one. The diffusers layout in one file needs no fixture: it is
                               models/tiny-controlnet/diffusion_pytorch_model.safetensors itself.
  models/tiny-controlnet-mid.safetensors, models/tiny-controlnet-small.safetensors  ControlNets shaped as
                               diffusers tells -mid and -small apart (infer_diffusers_model_type:
                               down_blocks.1 has an attention without transformer layers, or none),
                               in diffusers' layout, float16: the -mid one with transformer depths
                               [0, 0, 1], the -small one with no attention at all and
                               mid_block_type "UNetMidBlock2D" (one resnet)
  expected/controlnet-mid-small.safetensors  their residuals on controlnet-forward's inputs (scale 1),
                               computed from the float16-rounded weights
  expected/controlnet-sdxl-shapes.json  diffusers/controlnet-canny-sdxl-1.0's config.json and every
                               tensor shape a ControlNetModel of that config has (built on the meta
                               device): the config Kiln makes from those shapes must be that one
  expected/controlnet-bf16-renders.safetensors  StableDiffusionXLControlNetPipeline's images (float,
                               0..1) on the tiny base in float32 (`NAME/fp32`) and with dtype=
                               torch.bfloat16 (`NAME/bf16`), for BF16_RENDER_CASES
  expected/controlnet-bf16.safetensors  the ControlNet forward (controlnet-forward's inputs, scale 1)
                               by diffusers in float32 (`fp32.*`) and in torch.bfloat16 (`bf16.*`,
                               weights and activations), so a test can hold Kiln's bf16 error
                               against float32 to at most 1.5x diffusers' own.

diffusers' `convert_controlnet_checkpoint` (what `ControlNetModel.from_single_file` runs) maps
every original name but `label_emb.*`, the added embedding an SDXL ControlNet has, so
`from_single_file` of an original-layout SDXL ControlNet fails in diffusers 0.42.1 (the
`add_embedding` weights stay on the meta device). The check below runs that conversion on the
file written here and asserts that it gives the folder's tensors for every other name, and that
the `label_emb` names are those of diffusers' own table (`DIFFUSERS_TO_LDM_MAPPING["controlnet"]
["addition_embed_type"]`), so the inverse mapping written here is diffusers' own.
"""
import os

import torch
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "models")
EXPECTED = os.path.join(HERE, "expected")
RESNET = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
          ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")]


def original_keys(controlnet):
    """diffusers ControlNetModel names -> the original ControlNet names (without `control_model.`)."""
    per = controlnet.config.layers_per_block + 1
    fixed = {"conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0",
             "time_embedding.linear_2": "time_embed.2", "add_embedding.linear_1": "label_emb.0.0",
             "add_embedding.linear_2": "label_emb.0.2", "controlnet_mid_block": "middle_block_out.0",
             "controlnet_cond_embedding.conv_in": "input_hint_block.0"}
    blocks = len(controlnet.controlnet_cond_embedding.blocks)
    fixed["controlnet_cond_embedding.conv_out"] = f"input_hint_block.{2 * (blocks + 1)}"

    def resnet(rest):
        for new, old in RESNET:
            if rest.startswith(new + "."):
                return old + rest[len(new):]
        raise KeyError(rest)

    out = {}
    for name, tensor in controlnet.state_dict().items():
        parts = name.split(".")
        stem, leaf = ".".join(parts[:-1]), parts[-1]
        if stem in fixed:
            key = f"{fixed[stem]}.{leaf}"
        elif parts[0] == "controlnet_cond_embedding":
            key = f"input_hint_block.{2 * (int(parts[2]) + 1)}.{leaf}"
        elif parts[0] == "controlnet_down_blocks":
            key = f"zero_convs.{parts[1]}.0.{leaf}"
        elif parts[0] == "down_blocks":
            b, kind, rest = int(parts[1]), parts[2], ".".join(parts[4:])
            if kind == "downsamplers":
                key = f"input_blocks.{1 + b * per + per - 1}.0.op.{leaf}"
            else:
                i = 1 + b * per + int(parts[3])
                key = f"input_blocks.{i}.0.{resnet(rest)}" if kind == "resnets" else f"input_blocks.{i}.1.{rest}"
        elif parts[0] == "mid_block":
            kind, j, rest = parts[1], int(parts[2]), ".".join(parts[3:])
            key = f"middle_block.{2 * j}.{resnet(rest)}" if kind == "resnets" else f"middle_block.1.{rest}"
        else:
            raise KeyError(name)
        out[key] = tensor
    assert len(out) == len(controlnet.state_dict())
    return out


def original_file(folder, path):
    from diffusers import ControlNetModel
    controlnet = ControlNetModel.from_pretrained(folder).eval()
    original = {"control_model." + k: v.contiguous() for k, v in original_keys(controlnet).items()}
    save_file(original, path, metadata={"format": "pt"})
    # diffusers' own conversion of the file gives the folder's tensors back.
    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING, convert_controlnet_checkpoint
    converted = convert_controlnet_checkpoint(load_file(path), dict(controlnet.config))
    mine = controlnet.state_dict()
    missing = sorted(k for k in mine if k not in converted)
    assert all(k.startswith("add_embedding.") for k in missing), missing
    for k, v in converted.items():
        assert torch.equal(v, mine[k]), f"convert_controlnet_checkpoint: {k} differs"
    for new, old in DIFFUSERS_TO_LDM_MAPPING["controlnet"]["addition_embed_type"].items():
        assert torch.equal(load_file(path)["control_model." + old], mine[new]), new
    try:
        ControlNetModel.from_single_file(path, config=folder)
        print("from_single_file loaded the original layout")
    except Exception as error:  # diffusers 0.42.1: add_embedding is never mapped
        print(f"from_single_file fails on an original-layout SDXL ControlNet: {type(error).__name__}")
    print(f"convert_controlnet_checkpoint: {len(converted)} of {len(mine)} tensors equal; not mapped: {missing}")


@torch.no_grad()
def bf16_forward(folder, save):
    from diffusers import ControlNetModel
    inputs = load_file(os.path.join(EXPECTED, "controlnet-forward.safetensors"))
    out = {}
    for dtype, suffix in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        net = ControlNetModel.from_pretrained(folder, dtype=dtype).eval()
        cast = {k: inputs[k].to(dtype) for k in ("sample", "encoder_hidden_states", "text_embeds", "time_ids")}
        cond = (inputs["cond_u8"].to(torch.float32) / 255).to(dtype)
        down, mid = net(cast["sample"], inputs["timestep"].to(dtype), encoder_hidden_states=cast["encoder_hidden_states"],
                        controlnet_cond=cond, conditioning_scale=1.0,
                        added_cond_kwargs={"text_embeds": cast["text_embeds"], "time_ids": cast["time_ids"]}, return_dict=False)
        for i, d in enumerate(down):
            out[f"{suffix}.down.{i}"] = d.float()
        out[f"{suffix}.mid"] = mid.float()
    worst = max((out[k] - out[k.replace("bf16", "fp32")]).abs().max().item() / out[k.replace("bf16", "fp32")].abs().max().item()
                for k in out if k.startswith("bf16"))
    assert worst > 0, "bf16 changed nothing"
    print(f"diffusers bf16 against float32: largest error / largest value {worst:.4f}")
    save("controlnet-bf16", out)


def variant(config, seed, **overrides):
    """A ControlNet for the tiny base with `overrides`, every weight random (zero convolutions
    included, so it is not ignored) and rounded to float16."""
    from diffusers import ControlNetModel
    keys = ("in_channels", "block_out_channels", "layers_per_block", "attention_head_dim", "use_linear_projection",
            "cross_attention_dim", "addition_embed_type", "addition_time_embed_dim", "projection_class_embeddings_input_dim",
            "norm_num_groups", "conditioning_embedding_out_channels", "down_block_types", "transformer_layers_per_block")
    torch.manual_seed(seed)
    net = ControlNetModel(**dict({k: config[k] for k in keys}, **overrides)).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_((p + torch.randn(p.shape, generator=g) * 0.1).half().float())
    return net


@torch.no_grad()
def mid_and_small(folder, save):
    from diffusers import ControlNetModel
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type
    config = dict(ControlNetModel.load_config(folder))
    inputs = load_file(os.path.join(EXPECTED, "controlnet-forward.safetensors"))
    cond = inputs["cond_u8"].to(torch.float32) / 255
    added = {"text_embeds": inputs["text_embeds"], "time_ids": inputs["time_ids"]}
    nets = {
        "mid": variant(config, 41, transformer_layers_per_block=[0, 0, 1]),
        "small": variant(config, 42, down_block_types=["DownBlock2D"] * 3, mid_block_type="UNetMidBlock2D"),
    }
    out = {}
    for name, net in nets.items():
        state = {k: v.half().contiguous() for k, v in net.state_dict().items()}
        assert infer_diffusers_model_type(state) == "controlnet_xl_" + name, infer_diffusers_model_type(state)
        save_file(state, os.path.join(MODELS, f"tiny-controlnet-{name}.safetensors"), metadata={"format": "pt"})
        down, mid = net(inputs["sample"], inputs["timestep"], encoder_hidden_states=inputs["encoder_hidden_states"],
                        controlnet_cond=cond, conditioning_scale=1.0, added_cond_kwargs=added, return_dict=False)
        for i, d in enumerate(down):
            out[f"{name}.down.{i}"] = d
        out[f"{name}.mid"] = mid
        assert all(d.abs().max() > 1e-3 for d in down) and mid.abs().max() > 1e-3, "a zero residual"
    save("controlnet-mid-small", out)


def main(save):
    folder = os.path.join(MODELS, "tiny-controlnet")
    original_file(folder, os.path.join(MODELS, "tiny-controlnet-original.safetensors"))
    bf16_forward(folder, save)
    mid_and_small(folder, save)
    sdxl_shapes()
    bf16_renders(save)


# diffusers/controlnet-canny-sdxl-1.0's config.json (what from_single_file fetches for
# "controlnet_xl_large"), its options at diffusers' defaults left out.
CANNY_SDXL_CONFIG = {
    "_class_name": "ControlNetModel", "act_fn": "silu", "addition_embed_type": "text_time",
    "addition_embed_type_num_heads": 64, "addition_time_embed_dim": 256, "attention_head_dim": [5, 10, 20],
    "block_out_channels": [320, 640, 1280], "class_embed_type": None, "conditioning_channels": 3,
    "conditioning_embedding_out_channels": [16, 32, 96, 256], "controlnet_conditioning_channel_order": "rgb",
    "cross_attention_dim": 2048, "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "downsample_padding": 1, "encoder_hid_dim": None, "encoder_hid_dim_type": None, "flip_sin_to_cos": True,
    "freq_shift": 0, "global_pool_conditions": False, "in_channels": 4, "layers_per_block": 2,
    "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 32, "num_attention_heads": None,
    "num_class_embeds": None, "only_cross_attention": False, "projection_class_embeddings_input_dim": 2816,
    "resnet_time_scale_shift": "default", "transformer_layers_per_block": [1, 2, 10], "upcast_attention": None,
    "use_linear_projection": True,
}


def sdxl_shapes():
    """Every tensor's shape in a full-size SDXL ControlNet of that config (built on the meta device,
    no memory), to check the config Kiln makes from shapes against the published one."""
    import json
    from diffusers import ControlNetModel
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type
    with torch.device("meta"):
        net = ControlNetModel(**{k: v for k, v in CANNY_SDXL_CONFIG.items() if not k.startswith("_")})
    shapes = {k: list(v.shape) for k, v in net.state_dict().items()}
    assert infer_diffusers_model_type(dict.fromkeys(shapes)) == "controlnet_xl_large"
    with open(os.path.join(EXPECTED, "controlnet-sdxl-shapes.json"), "w") as f:
        json.dump({"config": CANNY_SDXL_CONFIG, "shapes": shapes}, f, indent=0, sort_keys=True)


# name, seed, call arguments besides the prompt (image: a file in images/)
BF16_RENDER_CASES = [
    ("one-72x56", 51, {"image": "control-edges-75x61.png", "controlnet_conditioning_scale": 0.8, "num_inference_steps": 6}),
    ("resized-128x96", 58, {"image": "control-shapes-75x61.png", "width": 128, "height": 96, "num_inference_steps": 4,
                            "control_guidance_end": 0.75, "guidance_scale": 6.0}),
]
BF16_RENDER_PROMPT = "a lighthouse on a cliff at dusk"


@torch.no_grad()
def bf16_renders(save):
    """What a --precision bf16 ControlNet render is measured against, as render-bf16 is for plain renders."""
    from diffusers import ControlNetModel, StableDiffusionXLControlNetPipeline
    from diffusers.utils import load_image
    out = {}
    for dtype, suffix in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        net = ControlNetModel.from_pretrained(os.path.join(MODELS, "tiny-controlnet"), dtype=dtype)
        pipe = StableDiffusionXLControlNetPipeline.from_pretrained(os.path.join(MODELS, "tiny-sdxl-base"), controlnet=net,
                                                                   dtype=dtype, add_watermarker=False)
        pipe.set_progress_bar_config(disable=True)
        for name, seed, args in BF16_RENDER_CASES:
            call = dict(args, image=load_image(os.path.join(HERE, "images", args["image"])))
            images = pipe(prompt=BF16_RENDER_PROMPT, **call, generator=torch.Generator("cpu").manual_seed(seed), output_type="np").images
            out[f"{name}/{suffix}"] = torch.from_numpy(images.astype("float32"))
    for name, _, _ in BF16_RENDER_CASES:
        d = (out[f"{name}/bf16"] - out[f"{name}/fp32"]).abs() * 255
        print(f"diffusers bf16 render {name}: largest {d.max().item():.1f}/255, mean {d.mean().item():.3f}")
    save("controlnet-bf16-renders", out)
