"""Fixtures for --scheduler-config, --timesteps and --sigmas (issue 17 items 2 and 3), made by
diffusers: each scheduler built with `from_config(config, **overrides)` and stepped with
`set_timesteps(steps)`, `set_timesteps(timesteps=...)` or `set_timesteps(sigmas=...)` on the
synthetic model of generate_fixtures.py; and whole tiny renders with the SDXL pipeline's
`timesteps=`/`sigmas=` arguments. Run through generate_fixtures.py:

    python3 Tests/Fixtures/generate_fixtures.py --only scheduler_config_fixtures
"""
import json
import os

import torch

KILN_CLASSES = {
    "euler": "EulerDiscreteScheduler", "euler-a": "EulerAncestralDiscreteScheduler", "ddim": "DDIMScheduler",
    "dpmpp-2m": "DPMSolverMultistepScheduler", "dpmpp-2m-karras": "DPMSolverMultistepScheduler",
    "heun": "HeunDiscreteScheduler", "lms": "LMSDiscreteScheduler", "unipc": "UniPCMultistepScheduler",
    "lcm": "LCMScheduler", "tcd": "TCDScheduler",
}


def scheduler_cases():
    """(name, kiln scheduler, overrides, steps, custom timesteps, custom sigmas, eta)."""
    cases = []
    # Every scheduler with every spacing, on an odd step count.
    for kiln in KILN_CLASSES:
        for spacing in ["trailing", "leading", "linspace"]:
            options = {"timestep_spacing": spacing}
            if kiln == "dpmpp-2m-karras":
                options["use_karras_sigmas"] = True
            cases.append((f"{kiln}-{spacing}-5", kiln, options, 5, None, None, None))
    # Custom timesteps (the Lightning schedule, and an uneven one) for the schedulers that take them.
    for kiln in ["euler", "dpmpp-2m", "heun", "lcm", "tcd"]:
        cases.append((f"{kiln}-timesteps-lightning", kiln, {"timestep_spacing": "trailing"}, None, [999, 759, 499, 259], None,
                      0.3 if kiln == "tcd" else None))
        cases.append((f"{kiln}-timesteps-uneven", kiln, {}, None, [950, 801, 420, 333, 57, 3], None, None))
    cases.append(("euler-sigmas", "euler", {}, None, None, [14.6, 7.25, 3.1, 1.05, 0.3, 0.0], None))
    cases.append(("euler-sigmas-sample-trailing", "euler", {"prediction_type": "sample", "timestep_spacing": "trailing"}, None, None,
                  [9.0, 2.5, 0.7, 0.029], None))
    # prediction_type sample for every scheduler that takes it.
    for kiln in ["euler", "ddim", "dpmpp-2m", "heun", "lms", "unipc", "lcm", "tcd"]:
        cases.append((f"{kiln}-sample-trailing-4", kiln, {"prediction_type": "sample", "timestep_spacing": "trailing"}, 4, None, None,
                      0.5 if kiln in ["tcd", "ddim"] else None))
    cases.append(("euler-sample-trailing-1", "euler", {"prediction_type": "sample", "timestep_spacing": "trailing"}, 1, None, None, None))
    # Karras sigmas through the config.
    for kiln in ["euler", "heun", "lms", "dpmpp-2m", "unipc"]:
        cases.append((f"{kiln}-karras-trailing-6", kiln, {"use_karras_sigmas": True, "timestep_spacing": "trailing"}, 6, None, None, None))
    # Zero terminal SNR (with v-prediction, as its models use it) for every scheduler that reads it.
    for kiln in ["euler", "euler-a", "ddim", "dpmpp-2m", "unipc", "lcm", "tcd"]:
        cases.append((f"{kiln}-zero-snr-vpred-trailing-5", kiln,
                      {"rescale_betas_zero_snr": True, "prediction_type": "v_prediction", "timestep_spacing": "trailing"}, 5, None, None,
                      0.3 if kiln == "tcd" else None))
    cases.append(("euler-zero-snr-eps-linspace-4", "euler", {"rescale_betas_zero_snr": True, "timestep_spacing": "linspace"}, 4, None, None, None))
    # final_sigmas_type sigma_min: Euler, DPM-Solver (below and above 15 steps), UniPC (with and without Karras).
    cases.append(("euler-sigma-min-7", "euler", {"final_sigmas_type": "sigma_min"}, 7, None, None, None))
    cases.append(("euler-sigma-min-timesteps", "euler", {"final_sigmas_type": "sigma_min"}, None, [999, 759, 499, 259], None, None))
    cases.append(("dpmpp-2m-sigma-min-6", "dpmpp-2m", {"final_sigmas_type": "sigma_min"}, 6, None, None, None))
    cases.append(("dpmpp-2m-sigma-min-16", "dpmpp-2m", {"final_sigmas_type": "sigma_min"}, 16, None, None, None))
    cases.append(("dpmpp-2m-karras-sigma-min-6", "dpmpp-2m-karras", {"final_sigmas_type": "sigma_min", "use_karras_sigmas": True}, 6, None, None, None))
    cases.append(("unipc-sigma-min-6", "unipc", {"final_sigmas_type": "sigma_min"}, 6, None, None, None))
    cases.append(("unipc-karras-sigma-min-6", "unipc", {"final_sigmas_type": "sigma_min", "use_karras_sigmas": True}, 6, None, None, None))
    # steps_offset, original_inference_steps, timestep_scaling.
    cases.append(("ddim-leading-offset3-6", "ddim", {"timestep_spacing": "leading", "steps_offset": 3}, 6, None, None, None))
    cases.append(("euler-leading-offset0-6", "euler", {"timestep_spacing": "leading", "steps_offset": 0}, 6, None, None, None))
    cases.append(("lcm-orig20-scaling2.5-4", "lcm", {"original_inference_steps": 20, "timestep_scaling": 2.5}, 4, None, None, None))
    cases.append(("tcd-orig25-3", "tcd", {"original_inference_steps": 25}, 3, None, None, 0.3))
    return cases


def kiln_text(overrides):
    """The overrides as `--scheduler-config` entries joined with ';' (how a sweep writes them)."""
    def value(v):
        return ("true" if v else "false") if isinstance(v, bool) else str(v)
    return ";".join(f"{k}={value(v)}" for k, v in sorted(overrides.items()))


def schedulers(expected, base_config, synthetic_model, save):
    import diffusers
    out = []
    for name, kiln, overrides, steps, timesteps, sigmas, eta in scheduler_cases():
        cls = getattr(diffusers, KILN_CLASSES[kiln])
        scheduler = cls.from_config(base_config, **overrides)
        if timesteps is not None:
            scheduler.set_timesteps(timesteps=timesteps)
        elif sigmas is not None:
            scheduler.set_timesteps(sigmas=sigmas)
        else:
            scheduler.set_timesteps(steps)
        generator = torch.Generator("cpu").manual_seed(7)
        sample = torch.randn(1, 4, 6, 5, generator=generator) * scheduler.init_noise_sigma
        start = sample.clone()
        import inspect
        takes_generator = "generator" in inspect.signature(scheduler.step).parameters
        for t in scheduler.timesteps:
            model_input = scheduler.scale_model_input(sample, t)
            kwargs = {"generator": generator} if takes_generator else {}
            if eta is not None:
                kwargs["eta"] = eta
            elif kiln == "tcd":
                kwargs["eta"] = 0.0  # the SDXL pipelines pass their eta, 0 by default (TCD's step alone defaults to 0.3)
            sample = scheduler.step(synthetic_model(model_input, t), t, sample, **kwargs).prev_sample
        tensors = {"timesteps": scheduler.timesteps.to(torch.float32), "start": start, "final": sample,
                   "init_noise_sigma": torch.tensor([float(scheduler.init_noise_sigma)])}
        if hasattr(scheduler, "sigmas"):
            tensors["sigmas"] = torch.as_tensor(scheduler.sigmas).to(torch.float32)
        save("scheduler-config-" + name, tensors)
        case = {"file": "scheduler-config-" + name, "scheduler": kiln, "config": base_config, "scheduler_config": kiln_text(overrides)}
        if steps is not None:
            case["steps"] = steps
        if timesteps is not None:
            case["timesteps"] = timesteps
        if sigmas is not None:
            case["sigmas"] = sigmas
        if eta is not None:
            case["eta"] = eta
        out.append(case)
    with open(os.path.join(expected, "schedulers-config.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)


RENDER_CASES = [
    # name, pipeline arguments, kiln scheduler, from_config overrides, seed
    ("lightning-euler-trailing-timesteps",
     {"prompt": "a cat", "guidance_scale": 0.0, "timesteps": [999, 759, 499, 259], "width": 88, "height": 56},
     "euler", {"timestep_spacing": "trailing"}, 7),
    ("euler-sample-trailing-2",
     {"prompt": "a lighthouse", "negative_prompt": "fog", "guidance_scale": 2.0, "num_inference_steps": 2, "width": 72, "height": 104},
     "euler", {"prediction_type": "sample", "timestep_spacing": "trailing"}, 11),
    ("euler-sigmas-karras-free",
     {"prompt": "a red fox", "guidance_scale": 1.0, "sigmas": [14.6, 4.2, 1.1, 0.0], "width": 64, "height": 40},
     "euler", {}, 3),
    ("dpmpp-2m-zero-snr-vpred-sigma-min",
     {"prompt": "a bowl of fruit", "guidance_scale": 3.0, "num_inference_steps": 3, "width": 56, "height": 72},
     "dpmpp-2m", {"rescale_betas_zero_snr": True, "prediction_type": "v_prediction", "timestep_spacing": "trailing",
                  "final_sigmas_type": "sigma_min"}, 5),
    # Image-to-image: get_timesteps cuts the custom schedule by strength (num_inference_steps = its length).
    ("img2img-lightning-timesteps-strength-0.5",
     {"prompt": "a cat", "guidance_scale": 0.0, "timesteps": [999, 759, 499, 259], "image": "input-photo-88x72.jpg", "strength": 0.5},
     "euler", {"timestep_spacing": "trailing"}, 9),
]


@torch.no_grad()
def renders(models, expected, save):
    """Whole renders on the tiny base: pixels (output_type np) and final latents (output_type latent)."""
    import diffusers
    from diffusers import StableDiffusionXLImg2ImgPipeline, StableDiffusionXLPipeline
    from diffusers.utils import load_image
    base_dir = os.path.join(models, "tiny-sdxl-base")
    images = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")
    out = []
    for name, args, kiln, overrides, seed in RENDER_CASES:
        results = {}
        cls = StableDiffusionXLImg2ImgPipeline if "image" in args else StableDiffusionXLPipeline
        call = dict(args)
        if "image" in call:
            call["image"] = load_image(os.path.join(images, call["image"]))
        for output_type in ["np", "latent"]:
            pipe = cls.from_pretrained(base_dir, dtype=torch.float32, add_watermarker=False)
            pipe.scheduler = getattr(diffusers, KILN_CLASSES[kiln]).from_config(pipe.scheduler.config, **overrides)
            pipe.set_progress_bar_config(disable=True)
            results[output_type] = pipe(**call, generator=torch.Generator("cpu").manual_seed(seed), output_type=output_type).images
        pixels = torch.from_numpy((results["np"] * 255).round().astype("uint8"))
        save("render-config-" + name, {"pixels": pixels, "latents": results["latent"].to(torch.float32)})
        out.append({"name": name, "scheduler": kiln, "seed": seed, "args": args, "scheduler_config": kiln_text(overrides)})
    with open(os.path.join(expected, "renders-scheduler-config.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
