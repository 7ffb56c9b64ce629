"""LoRA files in the key layouts the few-step LoRAs ship in, each loaded by diffusers' own
`load_lora_weights` on the tiny base pipeline and rendered with the scheduler its recipe uses.

Layouts (the projects' files are too big for fixtures; these hold the same key forms):
  kohya-diffusers-names   lora_unet_down_blocks_…  lora_down/lora_up/alpha, UNet only, LoCon
                          convolutions (resnets, shortcuts, down/upsamplers, time_emb_proj): the
                          form LCM-LoRA's training script writes (get_module_kohya_state_dict)
  kohya-sgm               lora_unet_input_blocks_…/middle_block_…/output_blocks_… (original SGM
                          numbering: op, skip_connection, in_layers_2, emb_layers_1, …) and
                          lora_te1_…/lora_te2_… text-encoder parts, alphas
  diffusers-old           diffusers' older attention-processor form
                          unet.….attn1.processor.to_q_lora.down.weight (to_out_lora), the other
                          UNet modules as unet.….lora.down.weight/lora.up.weight, and text
                          encoders as ….self_attn.to_q_lora.down.weight and ….lora_linear_layer.…
Each is rendered with its project's recipe: LCM (LCM-LoRA), DDIM trailing (Hyper-SD), Euler
trailing (SDXL-Lightning), TCD with eta (TCD-LoRA).
Called by generate_fixtures.py's `lora_layout_fixtures` part; writes loras/layout-*.safetensors,
expected/lora-layout-*.safetensors and expected/lora-layouts.json.
"""
import json
import os

import torch
from safetensors.torch import load_file, save_file

# The modules few-step LoRAs train (LCM-LoRA's list), on a few blocks of each kind so the files
# stay small but every SGM renaming is used: attention blocks, resnets with and without a
# shortcut, a downsampler, an upsampler, and all three middle-block parts.
UNET_TARGETS = (r"(down_blocks\.1|mid_block|up_blocks\.1)\.(.*\.)?"
                r"(to_q|to_k|to_v|to_out\.0|proj_in|proj_out|ff\.net\.0\.proj|ff\.net\.2|conv1|conv2|conv_shortcut"
                r"|time_emb_proj|downsamplers\.0\.conv|upsamplers\.0\.conv)")
TE_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]
PROMPT = "a lighthouse on a cliff at dawn"

# name, layout, scale, diffusers scheduler class and its from_config overrides, call arguments, seed
CASES = [
    # LCM-LoRA's recipe: LCMScheduler, 4 steps, guidance 1
    ("kohya-diffusers-names", "kohya-diffusers-names", 1.0, "LCMScheduler", {},
     {"prompt": PROMPT, "num_inference_steps": 4, "guidance_scale": 1.0, "width": 72, "height": 56}, 21),
    # Hyper-SD's: DDIM with trailing timesteps, guidance 0
    ("kohya-diffusers-names-ddim-trailing", "kohya-diffusers-names", 1.0, "DDIMScheduler", {"timestep_spacing": "trailing"},
     {"prompt": PROMPT, "num_inference_steps": 4, "guidance_scale": 0.0, "width": 64, "height": 40}, 24),
    # SDXL-Lightning's: Euler with trailing timesteps, guidance 0
    ("kohya-sgm", "kohya-sgm", 0.9, "EulerDiscreteScheduler", {"timestep_spacing": "trailing"},
     {"prompt": PROMPT, "num_inference_steps": 4, "guidance_scale": 0.0, "width": 88, "height": 40}, 22),
    # TCD's: TCDScheduler with eta
    ("diffusers-old", "diffusers-old", 0.8, "TCDScheduler", {},
     {"prompt": PROMPT, "negative_prompt": "fog", "num_inference_steps": 4, "guidance_scale": 1.5, "eta": 0.3,
      "width": 56, "height": 72}, 23),
]
KILN_SCHEDULERS = {"LCMScheduler": "lcm", "TCDScheduler": "tcd", "EulerDiscreteScheduler": "euler", "DDIMScheduler": "ddim"}


def sgm_name(module, layers_per_block, sgm_unet_name, up_attention_blocks):
    """generate_fixtures.sgm_unet_name, plus the samplers and middle-block resnets it leaves out."""
    per = layers_per_block + 1
    parts = module.split(".")
    if parts[0] == "down_blocks" and parts[2] == "downsamplers":
        return f"input_blocks.{(int(parts[1]) + 1) * per}.0.op"
    if parts[0] == "up_blocks" and parts[2] == "upsamplers":
        b = int(parts[1])
        return f"output_blocks.{b * per + per - 1}.{2 if b in up_attention_blocks else 1}.conv"
    return sgm_unet_name(module, layers_per_block)


def kohya(state, alphas, name_of):
    """PEFT A/B pairs -> kohya lora_down/lora_up/alpha under the names name_of gives."""
    out = {}
    for key, value in state.items():
        if not key.endswith(".lora_A.weight"):
            continue
        component, module = key[: -len(".lora_A.weight")].split(".", 1)
        name = name_of(component, module)
        out[name + ".lora_down.weight"] = value
        out[name + ".lora_up.weight"] = state[key.replace("lora_A", "lora_B")]
        out[name + ".alpha"] = torch.tensor(float(alphas[component]))
    return out


def diffusers_old(state):
    """PEFT A/B pairs -> diffusers' older forms: attention processors' to_q_lora/…/to_out_lora in
    the UNet (the rest lora.down/lora.up) and in the text encoders (the MLPs lora_linear_layer)."""
    out = {}
    for key, value in state.items():
        side = "down" if ".lora_A." in key else "up"
        base = key.replace(".lora_A.weight", "").replace(".lora_B.weight", "")
        component, module = base.split(".", 1)
        head, _, last = module.rpartition(".")
        if component == "unet":
            if module.endswith("to_out.0"):
                name = module[: -len("to_out.0")] + f"processor.to_out_lora.{side}.weight"
            elif last in ("to_q", "to_k", "to_v") and ".attn" in module:
                name = f"{head}.processor.{last}_lora.{side}.weight"
            else:
                name = f"{module}.lora.{side}.weight"
        else:
            full = module if module.startswith("text_model.") else "text_model." + module
            head, _, last = full.rpartition(".")
            if last in ("q_proj", "k_proj", "v_proj", "out_proj"):
                name = f"{head}.to_{last[:-len('_proj')]}_lora.{side}.weight"
            else:
                name = f"{full}.lora_linear_layer.{side}.weight"
        out[f"{component}.{name}"] = value
    return out


@torch.no_grad()
def main(here, models, expected, save, sgm_unet_name):
    import diffusers
    import transformers.integrations.peft as transformers_peft
    transformers_peft.check_peft_version = lambda *args, **kwargs: None
    from diffusers import StableDiffusionXLPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    base_dir = os.path.join(models, "tiny-sdxl-base")
    folder = os.path.join(here, "loras")

    torch.manual_seed(71)
    pipe = StableDiffusionXLPipeline.from_pretrained(base_dir, dtype=torch.float32)
    pipe.unet.add_adapter(LoraConfig(r=2, lora_alpha=3, target_modules=UNET_TARGETS, init_lora_weights=False))
    for encoder in (pipe.text_encoder, pipe.text_encoder_2):
        encoder.add_adapter(LoraConfig(r=2, lora_alpha=1, target_modules=TE_TARGETS, init_lora_weights=False))
    state = {}
    for component in ("unet", "text_encoder", "text_encoder_2"):
        for k, v in get_peft_model_state_dict(getattr(pipe, component)).items():
            state[f"{component}.{k}"] = v.contiguous()
    alphas = {"unet": 3, "text_encoder": 1, "text_encoder_2": 1}
    config = pipe.unet.config
    up_attention = {i for i, t in enumerate(config.up_block_types) if "CrossAttn" in t}

    def te_name(component, module):
        full = module if module.startswith("text_model.") else "text_model." + module
        return ("lora_te1_" if component == "text_encoder" else "lora_te2_") + full.replace(".", "_")

    unet_only = {k: v for k, v in state.items() if k.startswith("unet.")}
    files = {
        "kohya-diffusers-names": kohya(unet_only, alphas, lambda c, m: "lora_unet_" + m.replace(".", "_")),
        "kohya-sgm": kohya(state, alphas, lambda c, m: "lora_unet_" + sgm_name(m, config.layers_per_block, sgm_unet_name,
                                                                                 up_attention).replace(".", "_")
                           if c == "unet" else te_name(c, m)),
        "diffusers-old": diffusers_old(state),
    }
    records = []
    for name, layout, scale, cls_name, overrides, args, seed in CASES:
        path = os.path.join(folder, f"layout-{layout}.safetensors")
        save_file({k: v.contiguous() for k, v in files[layout].items()}, path)
        written = load_file(path)
        pipe = StableDiffusionXLPipeline.from_pretrained(base_dir, dtype=torch.float32, add_watermarker=False)
        pipe.scheduler = getattr(diffusers, cls_name).from_config(pipe.scheduler.config, **overrides)
        pipe.set_progress_bar_config(disable=True)
        pipe.load_lora_weights(path, adapter_name="layout")
        # diffusers loaded every module of the file, with its tensors (up weights nonzero).
        loaded = 0
        for component in ("unet", "text_encoder", "text_encoder_2"):
            ups = [v for k, v in getattr(pipe, component).state_dict().items() if ".lora_B.layout." in k]
            assert all(v.abs().sum() > 0 for v in ups), f"{name}: {component} has a zero up weight"
            loaded += len(ups)
        pairs = sum(1 for k in written if k.endswith(("lora_down.weight", "lora_A.weight", ".down.weight")))
        assert loaded == pairs, f"{name}: diffusers loaded {loaded} of the file's {pairs} modules"
        pipe.set_adapters(["layout"], [scale])
        kwargs = dict(args, generator=torch.Generator("cpu").manual_seed(seed), output_type="np")
        pixels = torch.from_numpy((pipe(**kwargs).images * 255).round().astype("uint8"))
        pipe.unload_lora_weights()
        plain = pipe(**dict(args, generator=torch.Generator("cpu").manual_seed(seed), output_type="np")).images
        assert (torch.from_numpy((plain * 255).round().astype("uint8")) != pixels).any(), f"{name}: LoRA left the image unchanged"
        save(f"lora-layout-{name}", {"pixels": pixels})
        records.append({"name": name, "layout": layout, "file": f"layout-{layout}.safetensors", "scale": scale,
                        "scheduler": KILN_SCHEDULERS[cls_name], "scheduler_config": overrides, "seed": seed, "watermark": False,
                        "args": args, "tensors": len(written)})
    with open(os.path.join(expected, "lora-layouts.json"), "w") as f:
        json.dump(records, f, indent=1, sort_keys=True)
