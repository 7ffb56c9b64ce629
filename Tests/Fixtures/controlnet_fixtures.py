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
