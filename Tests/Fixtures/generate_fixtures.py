#!/usr/bin/env python3
"""Builds Kiln's tiny random-weight SDXL fixtures with the reference implementation.

Run from anywhere:  python3 Tests/Fixtures/generate_fixtures.py
It creates a virtual environment (.venv-fixtures at the repository root) with pinned versions
of torch, diffusers and transformers, re-runs itself inside it, then writes:

  Tests/Fixtures/models/tiny-sdxl-base/      diffusers folder: base pipeline; unet saved sharded;
                                              text_encoder also has an fp16 variant
  Tests/Fixtures/models/tiny-sdxl-refiner/   refiner-style pipeline (text_encoder_2 only,
                                              aesthetic-score time ids, 4 down blocks)
  Tests/Fixtures/models/tiny-sdxl-inpaint/   base pipeline with a 9-channel inpainting UNet
  Tests/Fixtures/models/tiny-sdxl-base-tf5/  the base pipeline re-saved by diffusers/transformers 5
                                              (tokenizer.json layout)
  Tests/Fixtures/tokenizer-full/             the full 49408-token CLIP vocabulary, gzipped
  Tests/Fixtures/tokenizer-json/             the same vocabulary as transformers 5 saves it (tokenizer.json)
  Tests/Fixtures/tokenizer-added/            a tiny tokenizer.json with added tokens of each kind
  Tests/Fixtures/expected/*.safetensors      reference outputs of each component on fixed inputs
  Tests/Fixtures/expected/tokens*.json       reference token ids on varied prompts, for each layout

Everything is seeded, so re-running gives the same files for the same pinned versions.
"""
import gzip
import json
import os
import shutil
import subprocess
import sys

# accelerate: peft (installed without its dependencies) imports it, and diffusers imports peft.
PINNED = ["torch==2.15.0", "diffusers==0.42.1", "transformers==5.24.0", "safetensors", "scipy", "accelerate==1.16.0",
          "numpy", "opencv-python-headless==5.0.0.93", "PyWavelets==1.9.0",
          "invisible-watermark==0.2.0", "open_clip_torch==3.3.0", "peft==0.21.2"]
NO_DEPS = 3  # invisible-watermark, open_clip_torch, peft: only their own code (their extras are heavy)
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(ROOT, ".venv-fixtures")


def ensure_venv():
    if os.environ.get("KILN_FIXTURES_INSIDE") == "1":
        return
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([python, "-m", "pip", "install", "-q", "--upgrade", "pip"])
        # open_clip is only needed for its vocabulary file; skip its heavy dependencies.
        subprocess.check_call([python, "-m", "pip", "install", "-q"] + PINNED[:-NO_DEPS])
        subprocess.check_call([python, "-m", "pip", "install", "-q", "--no-deps"] + PINNED[-NO_DEPS:])
    env = dict(os.environ, KILN_FIXTURES_INSIDE="1")
    sys.exit(subprocess.call([python, os.path.abspath(__file__)] + sys.argv[1:], env=env))


ensure_venv()

import torch  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from transformers import (CLIPTextConfig, CLIPTextModel,  # noqa: E402
                          CLIPTextModelWithProjection, CLIPTokenizer)
from diffusers import (AutoencoderKL, EulerDiscreteScheduler,  # noqa: E402
                       StableDiffusionXLPipeline, StableDiffusionXLImg2ImgPipeline,
                       UNet2DConditionModel)

torch.set_num_threads(1)
MODELS = os.path.join(HERE, "models")
EXPECTED = os.path.join(HERE, "expected")
TINY_VOCAB = 1000


# Fixture groups that can be re-made alone, without rebuilding the models:
#   python3 Tests/Fixtures/generate_fixtures.py --only NAME [NAME ...]
# Each reads the committed tiny pipelines under models/ and writes only its own files.
PARTS = {}


def part(function):
    PARTS[function.__name__] = function
    return function


# ---------------------------------------------------------------- tokenizers
def clip_bytes_to_unicode():
    """CLIP's reversible byte -> printable character table (same rule as GPT-2)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, [chr(c) for c in chars]))


def clip_merges():
    import importlib.util  # locate the file without importing open_clip (it needs torchvision)
    package = os.path.dirname(importlib.util.find_spec("open_clip").origin)
    path = os.path.join(package, "bpe_simple_vocab_16e6.txt.gz")
    lines = gzip.open(path).read().decode("utf-8").split("\n")
    return [tuple(line.split()) for line in lines[1:49152 - 256 - 2 + 1]]


def vocab_and_merges(size):
    """The CLIP vocabulary construction, cut to `size` entries (49408 is the full one)."""
    byte_chars = list(clip_bytes_to_unicode().values())
    merges = clip_merges()[: size - 2 * len(byte_chars) - 2]
    tokens = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    assert len(tokens) == size
    return {t: i for i, t in enumerate(tokens)}, merges


def write_tokenizer_folder(folder, vocab, merges, pad_token):
    """Writes the four files the SDXL repositories ship for a CLIP tokenizer."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(" ".join(m) + "\n" for m in merges))
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
               "unk_token": "<|endoftext|>", "pad_token": pad_token}
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=2)
    config = dict(special, model_max_length=77, do_lower_case=True,
                  tokenizer_class="CLIPTokenizer", clean_up_tokenization_spaces=True)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)


TOKEN_PROMPTS = [
    "a photo of an astronaut riding a horse on mars",
    "Astronaut in a jungle, cold color palette, muted colors, detailed, 8k",
    "A majestic lion jumping from a big stone at night",
    "",
    "   leading and trailing   spaces   ",
    "UPPER lower MiXeD CaSe",
    "numbers 1234567890 and 3.14159, 1e-5, 0x1F",
    "punctuation!!! ??? ... ;;; --- ((((brackets)))) [weights:1.2] {curly}",
    "it's they're we've I'm you'll he'd can't won't",
    "café naïve résumé façade Ångström Øre",
    "Straße Größe Ärger Übermut",
    "日本の風景、桜と富士山",
    "中文提示词：一只可爱的猫",
    "한국어 프롬프트 테스트",
    "Привет, мир! Ёлка",
    "Ελληνικά γράμματα αβγ",
    "emoji 🐱🚀🎨 and 👍🏽 skin tone, family 👨‍👩‍👧",
    "tabs\tand\nnewlines\r\nmixed",
    "html &amp; entities &lt;b&gt; bold",
    "<|startoftext|> special tokens <|endoftext|> inside",
    "hyphen-ated words, under_scores and slashes/path/to/file.png",
    "quotes \"double\" and 'single' and `back`",
    "math: a+b=c, x^2, 50% off, $100, #hashtag, @mention, ~tilde~",
    "a" * 20,
    "word " * 100,
    "a very long prompt " + ", ".join(f"detail number {i}" for i in range(60)),
    "ﬁ ligature and ｆｕｌｌｗｉｄｔｈ letters",
    "e\u0301 combining accent vs é precomposed",
    "non\u00a0breaking\u2003em space\u200bzero width",
    "Ⅻ roman numeral, ½ fraction, ² superscript, ٣ arabic digit",
    "masterpiece, best quality, (intricate details:1.3), 85mm f/1.8, bokeh, RAW photo",
    "mr. smith's dog's bone",
    "a (red:1.2) fox, [blue:0.8] sky, (((masterpiece))), {best|worst}, (word:1.2)",
    "<|ENDOFTEXT|> upper-case special token",
    "glued<|endoftext|>specials<|startoftext|>!end",
    "wow!! pads!inside ! words",
]


def write_gzip(path, data):
    """gzip with mtime 0 and no file name: the same bytes on every run."""
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            f.write(data)


@part
def tokenizer_fixtures():
    vocab, merges = vocab_and_merges(49408)
    folder = os.path.join(HERE, "tokenizer-full")
    os.makedirs(folder, exist_ok=True)
    write_gzip(os.path.join(folder, "vocab.json.gz"), json.dumps(vocab, ensure_ascii=False).encode("utf-8"))
    write_gzip(os.path.join(folder, "merges.txt.gz"),
               ("#version: 0.2\n" + "".join(" ".join(m) + "\n" for m in merges)).encode("utf-8"))
    tmp = os.path.join(HERE, ".tok-tmp")
    results = []
    for pad in ["<|endoftext|>", "!"]:
        write_tokenizer_folder(tmp, vocab, merges, pad)
        tok = CLIPTokenizer.from_pretrained(tmp)
        for prompt in TOKEN_PROMPTS:
            ids = tok(prompt, padding="max_length", max_length=77, truncation=True).input_ids
            results.append({"pad_token": pad, "prompt": prompt, "ids": ids})
    shutil.rmtree(tmp)
    with open(os.path.join(EXPECTED, "tokens.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False, indent=0)


ADDED_TOKEN_PROMPTS = [
    "a photo of <Cat-Toy> and <CAT-TOY>, <cat-toy>s",
    "x [mask] y   [mask]z\t[mask]",
    "anthony ony ony's (ony) sony ony",
    "<tok> <tok>_1 <tok>_10 <TOK>",
    "a red fox! [MASK] <Cat-Toy>!",
    "",
]


@part
def tokenizer_json_fixtures():
    """Tokenizer folders in the layout transformers 5's save_pretrained writes (tokenizer.json and
    tokenizer_config.json, no vocab.json or merges.txt), and transformers' ids read from them:

      tokenizer-json/   the full CLIP vocabulary, merges as pairs (tokenizers 0.20+); tokenizer.json
                        is stored gzipped, byte for byte the file transformers wrote and read
      tokenizer-added/  the tiny vocabulary with added tokens of each kind (normalized, special with
                        lstrip/rstrip, single_word) and merges as "a b" strings, as older tokenizers
                        wrote them
    """
    from transformers import AddedToken
    vocab, merges = vocab_and_merges(49408)
    four = os.path.join(HERE, ".tok-four")
    write_tokenizer_folder(four, vocab, merges, "<|endoftext|>")
    saved = os.path.join(HERE, ".tok-json")
    shutil.rmtree(saved, ignore_errors=True)
    CLIPTokenizer.from_pretrained(four).save_pretrained(saved)
    shutil.rmtree(four)
    assert sorted(os.listdir(saved)) == ["tokenizer.json", "tokenizer_config.json"], os.listdir(saved)
    results = []
    for pad in ["<|endoftext|>", "!"]:
        # pad_token="!" as an override, the way Kiln's padTokenOverride is tested
        tok = CLIPTokenizer.from_pretrained(saved, pad_token=pad)
        for prompt in TOKEN_PROMPTS:
            ids = tok(prompt, padding="max_length", max_length=77, truncation=True).input_ids
            results.append({"pad_token": pad, "prompt": prompt, "ids": ids})
    folder = os.path.join(HERE, "tokenizer-json")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    with open(os.path.join(saved, "tokenizer.json"), "rb") as f:
        write_gzip(os.path.join(folder, "tokenizer.json.gz"), f.read())
    shutil.copy(os.path.join(saved, "tokenizer_config.json"), folder)
    shutil.rmtree(saved)
    with open(os.path.join(EXPECTED, "tokens-tokenizer-json.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False, indent=0)

    tiny = CLIPTokenizer.from_pretrained(os.path.join(MODELS, "tiny-sdxl-base", "tokenizer_2"))
    tiny.add_tokens(["<Cat-Toy>", "<tok>", "<tok>_1"])
    tiny.add_tokens([AddedToken("[mask]", lstrip=True, rstrip=True, normalized=False, special=True)],
                    special_tokens=True)
    tiny.add_tokens([AddedToken("ony", single_word=True, normalized=False, special=False)])
    added = os.path.join(HERE, "tokenizer-added")
    shutil.rmtree(added, ignore_errors=True)
    tiny.save_pretrained(added)
    path = os.path.join(added, "tokenizer.json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    data["model"]["merges"] = [" ".join(m) for m in data["model"]["merges"]]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)
    tok = CLIPTokenizer.from_pretrained(added)
    results = []
    for prompt in ADDED_TOKEN_PROMPTS + TOKEN_PROMPTS[:8]:
        ids = tok(prompt, padding="max_length", max_length=77, truncation=True).input_ids
        assert ids == tiny(prompt, padding="max_length", max_length=77, truncation=True).input_ids, prompt
        results.append({"prompt": prompt, "ids": ids})
    with open(os.path.join(EXPECTED, "tokens-added.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False, indent=0)


# ---------------------------------------------------------------- tiny models
def text_encoder_1():
    torch.manual_seed(1)
    return CLIPTextModel(CLIPTextConfig(
        vocab_size=TINY_VOCAB, hidden_size=16, intermediate_size=40, num_hidden_layers=3,
        num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
        layer_norm_eps=1e-5, bos_token_id=TINY_VOCAB - 2, eos_token_id=TINY_VOCAB - 1,
        pad_token_id=1, projection_dim=16)).eval()


def text_encoder_2(seed=2):
    torch.manual_seed(seed)
    return CLIPTextModelWithProjection(CLIPTextConfig(
        vocab_size=TINY_VOCAB, hidden_size=32, intermediate_size=72, num_hidden_layers=4,
        num_attention_heads=4, max_position_embeddings=77, hidden_act="gelu",
        layer_norm_eps=1e-5, bos_token_id=TINY_VOCAB - 2, eos_token_id=TINY_VOCAB - 1,
        pad_token_id=1, projection_dim=24)).eval()


def base_unet(in_channels=4, seed=3):
    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=16, in_channels=in_channels, out_channels=4,
        block_out_channels=(8, 16, 24), layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        mid_block_type="UNetMidBlock2DCrossAttn",
        transformer_layers_per_block=(1, 1, 2), attention_head_dim=(1, 2, 3),
        use_linear_projection=True, cross_attention_dim=16 + 32,
        addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=24 + 6 * 8,
        norm_num_groups=4, norm_eps=1e-5, flip_sin_to_cos=True, freq_shift=0,
        act_fn="silu").eval()


def refiner_unet(seed=4):
    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=16, in_channels=4, out_channels=4,
        block_out_channels=(8, 16, 24, 24), layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                          "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        mid_block_type="UNetMidBlock2DCrossAttn",
        transformer_layers_per_block=2, attention_head_dim=(1, 2, 3, 3),
        use_linear_projection=True, cross_attention_dim=32,
        addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=24 + 5 * 8,
        norm_num_groups=4, norm_eps=1e-5, flip_sin_to_cos=True, freq_shift=0,
        act_fn="silu").eval()


def vae(seed=5):
    torch.manual_seed(seed)
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 16, 16, 16), layers_per_block=1, norm_num_groups=4,
        sample_size=128, scaling_factor=0.13025, force_upcast=True).eval()


def sdxl_scheduler():
    return EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
        num_train_timesteps=1000, prediction_type="epsilon", steps_offset=1,
        timestep_spacing="leading", interpolation_type="linear", use_karras_sigmas=False)


def tiny_tokenizer(pad):
    vocab, merges = vocab_and_merges(TINY_VOCAB)
    folder = os.path.join(HERE, ".tok-tiny-" + ("eot" if pad.startswith("<") else "bang"))
    write_tokenizer_folder(folder, vocab, merges, pad)
    return folder


def replace_tokenizer_files(pipeline_folder, name, source_folder):
    """Keeps the tokenizer folder in the four-file layout of the SDXL repositories."""
    dest = os.path.join(pipeline_folder, name)
    shutil.rmtree(dest)
    shutil.copytree(source_folder, dest)


def build_pipelines():
    tok1_dir, tok2_dir = tiny_tokenizer("<|endoftext|>"), tiny_tokenizer("!")
    tok1, tok2 = CLIPTokenizer.from_pretrained(tok1_dir), CLIPTokenizer.from_pretrained(tok2_dir)
    te1, te2, the_vae = text_encoder_1(), text_encoder_2(), vae()

    base = StableDiffusionXLPipeline(
        vae=the_vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tok1, tokenizer_2=tok2,
        unet=base_unet(), scheduler=sdxl_scheduler(), force_zeros_for_empty_prompt=True,
        add_watermarker=False)
    base_dir = os.path.join(MODELS, "tiny-sdxl-base")
    base.save_pretrained(base_dir, safe_serialization=True)
    # A sharded component, as the large SDXL UNet files are published.
    os.remove(os.path.join(base_dir, "unet", "diffusion_pytorch_model.safetensors"))
    base.unet.save_pretrained(os.path.join(base_dir, "unet"), safe_serialization=True,
                              max_shard_size="400KB")
    # An fp16 variant next to the float32 weights (only the weights file: saving a half model
    # would also rewrite config.json with dtype float16).
    half_dir = os.path.join(HERE, ".fp16-tmp")
    half = text_encoder_1().to(torch.float16)
    half.save_pretrained(half_dir, safe_serialization=True, variant="fp16")
    shutil.copy(os.path.join(half_dir, "model.fp16.safetensors"), os.path.join(base_dir, "text_encoder"))
    shutil.rmtree(half_dir)

    inpaint = StableDiffusionXLPipeline(
        vae=the_vae, text_encoder=te1, text_encoder_2=te2, tokenizer=tok1, tokenizer_2=tok2,
        unet=base_unet(in_channels=9, seed=6), scheduler=sdxl_scheduler(),
        force_zeros_for_empty_prompt=True, add_watermarker=False)
    inpaint_dir = os.path.join(MODELS, "tiny-sdxl-inpaint")
    inpaint.save_pretrained(inpaint_dir, safe_serialization=True)

    refiner = StableDiffusionXLImg2ImgPipeline(
        vae=the_vae, text_encoder=None, text_encoder_2=te2, tokenizer=None, tokenizer_2=tok2,
        unet=refiner_unet(), scheduler=sdxl_scheduler(), requires_aesthetics_score=True,
        force_zeros_for_empty_prompt=False, add_watermarker=False)
    refiner_dir = os.path.join(MODELS, "tiny-sdxl-refiner")
    refiner.save_pretrained(refiner_dir, safe_serialization=True)

    for folder in (base_dir, inpaint_dir, refiner_dir):
        write_scheduler_config(folder)
    for folder in (base_dir, inpaint_dir):
        replace_tokenizer_files(folder, "tokenizer", tok1_dir)
        replace_tokenizer_files(folder, "tokenizer_2", tok2_dir)
    replace_tokenizer_files(refiner_dir, "tokenizer_2", tok2_dir)
    shutil.rmtree(tok1_dir)
    shutil.rmtree(tok2_dir)
    return base_dir, inpaint_dir, refiner_dir


# ---------------------------------------------------------------- schedulers and seeds
# The scheduler config published with stabilityai/stable-diffusion-xl-base-1.0.
SDXL_SCHEDULER_CONFIG = {
    "_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.19.0.dev0", "beta_end": 0.012,
    "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False,
    "interpolation_type": "linear", "num_train_timesteps": 1000, "prediction_type": "epsilon",
    "sample_max_value": 1.0, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
    "timestep_spacing": "leading", "trained_betas": None, "use_karras_sigmas": False,
}


def write_scheduler_config(folder):
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(SDXL_SCHEDULER_CONFIG, f, indent=2, sort_keys=True)


SCHEDULER_CASES = [
    # (file name, kiln name, diffusers class, extra from_config options, config overrides, steps)
    ("euler-10", "euler", "EulerDiscreteScheduler", {}, {}, 10),
    ("euler-a-10", "euler-a", "EulerAncestralDiscreteScheduler", {}, {}, 10),
    ("ddim-10", "ddim", "DDIMScheduler", {}, {}, 10),
    ("dpmpp-2m-10", "dpmpp-2m", "DPMSolverMultistepScheduler", {}, {}, 10),
    ("dpmpp-2m-20", "dpmpp-2m", "DPMSolverMultistepScheduler", {}, {}, 20),
    ("dpmpp-2m-karras-10", "dpmpp-2m-karras", "DPMSolverMultistepScheduler", {"use_karras_sigmas": True}, {}, 10),
    ("heun-6", "heun", "HeunDiscreteScheduler", {}, {}, 6),
    ("lms-10", "lms", "LMSDiscreteScheduler", {}, {}, 10),
    ("euler-trailing-7", "euler", "EulerDiscreteScheduler", {}, {"timestep_spacing": "trailing"}, 7),
    ("euler-linspace-karras-7", "euler", "EulerDiscreteScheduler", {}, {"timestep_spacing": "linspace", "use_karras_sigmas": True}, 7),
    ("euler-vpred-5", "euler", "EulerDiscreteScheduler", {}, {"prediction_type": "v_prediction"}, 5),
    ("ddim-trailing-vpred-7", "ddim", "DDIMScheduler", {}, {"timestep_spacing": "trailing", "prediction_type": "v_prediction"}, 7),
    ("dpmpp-2m-linspace-7", "dpmpp-2m", "DPMSolverMultistepScheduler", {}, {"timestep_spacing": "linspace"}, 7),
    ("heun-karras-4", "heun", "HeunDiscreteScheduler", {}, {"use_karras_sigmas": True}, 4),
    ("lms-trailing-8", "lms", "LMSDiscreteScheduler", {}, {"timestep_spacing": "trailing"}, 8),
    ("unipc-10", "unipc", "UniPCMultistepScheduler", {}, {}, 10),
    ("unipc-20", "unipc", "UniPCMultistepScheduler", {}, {}, 20),
    ("unipc-linspace-vpred-6", "unipc", "UniPCMultistepScheduler", {}, {"timestep_spacing": "linspace", "prediction_type": "v_prediction"}, 6),
    ("unipc-karras-7", "unipc", "UniPCMultistepScheduler", {}, {"use_karras_sigmas": True}, 7),
]


def synthetic_model(model_input, t):
    """A cheap stand-in for the UNet so the scheduler arithmetic alone is compared."""
    ramp = torch.linspace(-1, 1, model_input.numel()).reshape(model_input.shape)
    return 0.6 * model_input + 0.2 * torch.sin(ramp * 3 + float(t) / 100.0)


def scheduler_fixtures():
    import diffusers
    cases = []
    for name, kiln_name, cls_name, options, overrides, steps in SCHEDULER_CASES:
        config = dict(SDXL_SCHEDULER_CONFIG, **overrides)
        cls = getattr(diffusers, cls_name)
        scheduler = cls.from_config(config, **options)
        scheduler.set_timesteps(steps)
        generator = torch.Generator("cpu").manual_seed(7)
        sample = torch.randn(1, 4, 6, 5, generator=generator) * scheduler.init_noise_sigma
        start = sample.clone()
        import inspect
        takes_generator = "generator" in inspect.signature(scheduler.step).parameters
        for t in scheduler.timesteps:
            model_input = scheduler.scale_model_input(sample, t)
            kwargs = {"generator": generator} if takes_generator else {}
            sample = scheduler.step(synthetic_model(model_input, t), t, sample, **kwargs).prev_sample
        tensors = {"timesteps": scheduler.timesteps.to(torch.float32), "start": start, "final": sample,
                   "init_noise_sigma": torch.tensor([float(scheduler.init_noise_sigma)])}
        if hasattr(scheduler, "sigmas"):
            tensors["sigmas"] = torch.as_tensor(scheduler.sigmas).to(torch.float32)
        save("scheduler-" + name, tensors)
        cases.append({"file": "scheduler-" + name, "scheduler": kiln_name, "steps": steps, "config": config})
    with open(os.path.join(EXPECTED, "schedulers.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


FEW_STEP_SCHEDULER_CASES = [
    # (file name, kiln name, diffusers class, config overrides, steps, set_timesteps strength, step eta)
    ("lcm-1", "lcm", "LCMScheduler", {}, 1, 1.0, None),
    ("lcm-4", "lcm", "LCMScheduler", {}, 4, 1.0, None),
    ("lcm-8", "lcm", "LCMScheduler", {}, 8, 1.0, None),
    ("lcm-orig33-6", "lcm", "LCMScheduler", {"original_inference_steps": 33}, 6, 1.0, None),
    ("lcm-orig7-7-scaling5", "lcm", "LCMScheduler", {"original_inference_steps": 7, "timestep_scaling": 5.0}, 7, 1.0, None),
    ("lcm-strength-0.6-4", "lcm", "LCMScheduler", {}, 4, 0.6, None),
    ("lcm-vpred-clip-3", "lcm", "LCMScheduler", {"prediction_type": "v_prediction", "clip_sample": True}, 3, 1.0, None),
    ("tcd-eta0.3-4", "tcd", "TCDScheduler", {}, 4, 1.0, 0.3),
    ("tcd-eta0-6", "tcd", "TCDScheduler", {}, 6, 1.0, 0.0),
    ("tcd-eta1-5", "tcd", "TCDScheduler", {}, 5, 1.0, 1.0),
    ("tcd-eta0.7-orig33-8", "tcd", "TCDScheduler", {"original_inference_steps": 33}, 8, 1.0, 0.7),
    ("tcd-eta0.3-strength-0.45-3", "tcd", "TCDScheduler", {}, 3, 0.45, 0.3),
    ("tcd-eta0.5-vpred-1", "tcd", "TCDScheduler", {"prediction_type": "v_prediction"}, 1, 1.0, 0.5),
    # DDIM takes the pipeline's eta too (and draws noise after every step, the last included)
    ("ddim-eta0.5-5", "ddim", "DDIMScheduler", {}, 5, 1.0, 0.5),
    ("ddim-eta1-trailing-vpred-4", "ddim", "DDIMScheduler", {"timestep_spacing": "trailing", "prediction_type": "v_prediction"}, 4, 1.0, 1.0),
]


@part
def few_step_scheduler_fixtures():
    """LCMScheduler and TCDScheduler as scheduler_fixtures drives the others, with set_timesteps'
    strength and TCD's (and DDIM's) eta; written beside schedulers.json, which stays as it is."""
    import diffusers
    cases = []
    for name, kiln_name, cls_name, overrides, steps, strength, eta in FEW_STEP_SCHEDULER_CASES:
        config = dict(SDXL_SCHEDULER_CONFIG, **overrides)
        scheduler = getattr(diffusers, cls_name).from_config(config)
        scheduler.set_timesteps(steps, **({"strength": strength} if strength != 1.0 else {}))
        generator = torch.Generator("cpu").manual_seed(7)
        sample = torch.randn(1, 4, 6, 5, generator=generator) * scheduler.init_noise_sigma
        start = sample.clone()
        kwargs = {"generator": generator} if eta is None else {"generator": generator, "eta": eta}
        for t in scheduler.timesteps:
            model_input = scheduler.scale_model_input(sample, t)
            sample = scheduler.step(synthetic_model(model_input, t), t, sample, **kwargs).prev_sample
        tensors = {"timesteps": scheduler.timesteps.to(torch.float32), "start": start, "final": sample,
                   "init_noise_sigma": torch.tensor([float(scheduler.init_noise_sigma)]),
                   # where the generator stands after the run: no draw after the last step
                   "next_draw": torch.randn(1, 4, 6, 5, generator=generator)}
        save("scheduler-" + name, tensors)
        case = {"file": "scheduler-" + name, "scheduler": kiln_name, "steps": steps, "config": config, "strength": strength}
        if eta is not None:
            case["eta"] = eta
        cases.append(case)
    with open(os.path.join(EXPECTED, "schedulers-few-step.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


def seed_fixtures():
    """torch.randn from seeded CPU generators: sizes below, at and above 16, odd tails, 64-bit seeds."""
    tensors = {}
    for seed, shape in [(0, (3,)), (1, (15,)), (2, (16,)), (3, (17,)), (42, (1, 4, 8, 8)), (2**40 + 5, (2, 4, 7, 9)),
                        (123456789, (1, 4, 64, 64))]:
        g = torch.Generator("cpu").manual_seed(seed)
        first = torch.randn(shape, generator=g)
        second = torch.randn(shape, generator=g)  # a second draw continues the stream
        key = f"seed{seed}_" + "x".join(map(str, shape))
        tensors[key + ".first"] = first
        tensors[key + ".second"] = second
    save("torch-randn", tensors)


# ---------------------------------------------------------------- renders
RENDER_CASES = [
    # name, call arguments (seed and scheduler handled separately), scheduler, seed
    ("euler-square", {"prompt": "a red fox in the snow", "num_inference_steps": 4}, "euler", 0),
    ("euler-wide-negative", {"prompt": "a lighthouse, oil painting", "negative_prompt": "blurry, dark",
                             "width": 96, "height": 64, "num_inference_steps": 5, "guidance_scale": 6.5}, "euler", 1234),
    ("euler-a", {"prompt": "a cat", "negative_prompt": "dog", "num_inference_steps": 5}, "euler-a", 7),
    ("ddim", {"prompt": "a cat", "negative_prompt": "dog", "num_inference_steps": 5}, "ddim", 7),
    ("dpmpp-2m", {"prompt": "a cat", "negative_prompt": "dog", "num_inference_steps": 5}, "dpmpp-2m", 7),
    ("dpmpp-2m-karras", {"prompt": "a cat", "num_inference_steps": 5}, "dpmpp-2m-karras", 7),
    ("heun", {"prompt": "a cat", "negative_prompt": "dog", "num_inference_steps": 3}, "heun", 7),
    ("lms", {"prompt": "a cat", "negative_prompt": "dog", "num_inference_steps": 5}, "lms", 7),
    ("unipc", {"prompt": "a cat", "negative_prompt": "dog", "num_inference_steps": 5}, "unipc", 7),
    ("everything", {"prompt": "a castle on a hill", "prompt_2": "watercolor, soft light", "negative_prompt": "fog",
                    "negative_prompt_2": "people", "num_inference_steps": 4, "guidance_scale": 7.0,
                    "guidance_rescale": 0.7, "clip_skip": 1, "original_size": (256, 192),
                    "crops_coords_top_left": (16, 8), "target_size": (96, 128),
                    "negative_original_size": (64, 64), "negative_crops_coords_top_left": (0, 4),
                    "negative_target_size": (128, 128), "width": 128, "height": 96}, "euler", 99),
    ("two-images", {"prompt": "two boats", "num_inference_steps": 3, "num_images_per_prompt": 2,
                    "negative_original_size": (64, 64), "negative_target_size": (32, 32)}, "euler", 5),
    ("no-guidance", {"prompt": "a tree", "num_inference_steps": 3, "guidance_scale": 1.0}, "euler", 3),
    ("watermarked-256", {"prompt": "a quiet harbour", "num_inference_steps": 2, "width": 256, "height": 256}, "euler", 11),
]

SCHEDULER_CLASSES = {"euler": ("EulerDiscreteScheduler", {}), "euler-a": ("EulerAncestralDiscreteScheduler", {}),
                     "ddim": ("DDIMScheduler", {}), "dpmpp-2m": ("DPMSolverMultistepScheduler", {}),
                     "dpmpp-2m-karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
                     "heun": ("HeunDiscreteScheduler", {}), "lms": ("LMSDiscreteScheduler", {}),
                     "unipc": ("UniPCMultistepScheduler", {})}


@torch.no_grad()
def render_fixtures(base_dir):
    import diffusers
    cases = []
    for name, args, scheduler, seed in RENDER_CASES:
        watermark = name.startswith("watermarked")
        pipe = StableDiffusionXLPipeline.from_pretrained(base_dir, dtype=torch.float32, add_watermarker=watermark)
        cls_name, options = SCHEDULER_CLASSES[scheduler]
        pipe.scheduler = getattr(diffusers, cls_name).from_config(pipe.scheduler.config, **options)
        pipe.set_progress_bar_config(disable=True)
        out = pipe(**args, generator=torch.Generator("cpu").manual_seed(seed), output_type="np").images
        pixels = torch.from_numpy((out * 255).round().astype("uint8"))
        save("render-" + name, {"pixels": pixels})
        cases.append({"name": name, "scheduler": scheduler, "seed": seed, "watermark": watermark,
                      "args": {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}})
    # denoising_end: latents out
    pipe = StableDiffusionXLPipeline.from_pretrained(base_dir, dtype=torch.float32, add_watermarker=False)
    latents = pipe(prompt="a mountain lake", num_inference_steps=10, denoising_end=0.6, output_type="latent",
                   generator=torch.Generator("cpu").manual_seed(21)).images
    save("render-denoising-end", {"latents": latents})
    with open(os.path.join(EXPECTED, "renders.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


FEW_STEP_RENDER_CASES = [
    # name, call arguments (eta is the pipeline's), diffusers scheduler class, seed
    ("lcm-4", {"prompt": "a cat", "negative_prompt": "dog", "num_inference_steps": 4, "guidance_scale": 1.5}, "LCMScheduler", 7),
    ("lcm-2-no-guidance", {"prompt": "a red fox in the snow", "num_inference_steps": 2, "guidance_scale": 1.0,
                           "width": 96, "height": 64}, "LCMScheduler", 12),
    ("tcd-4-eta0.3", {"prompt": "a cat", "num_inference_steps": 4, "guidance_scale": 0.0, "eta": 0.3}, "TCDScheduler", 7),
    ("tcd-3-eta0", {"prompt": "a lighthouse", "negative_prompt": "fog", "num_inference_steps": 3, "guidance_scale": 2.0},
     "TCDScheduler", 5),
]


@part
@torch.no_grad()
def few_step_render_fixtures():
    """Text-to-image on the tiny base with the scheduler swapped for LCMScheduler or TCDScheduler
    by from_config, as the few-step recipes do; beside renders.json, which stays as it is."""
    import diffusers
    base_dir = os.path.join(MODELS, "tiny-sdxl-base")
    cases = []
    for name, args, cls_name, seed in FEW_STEP_RENDER_CASES:
        pipe = StableDiffusionXLPipeline.from_pretrained(base_dir, dtype=torch.float32, add_watermarker=False)
        pipe.scheduler = getattr(diffusers, cls_name).from_config(pipe.scheduler.config)
        pipe.set_progress_bar_config(disable=True)
        out = pipe(**args, generator=torch.Generator("cpu").manual_seed(seed), output_type="np").images
        save("render-" + name, {"pixels": torch.from_numpy((out * 255).round().astype("uint8"))})
        kiln = {"LCMScheduler": "lcm", "TCDScheduler": "tcd"}[cls_name]
        cases.append({"name": name, "scheduler": kiln, "seed": seed, "watermark": False, "args": args})
    with open(os.path.join(EXPECTED, "renders-few-step.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


@part
def unet_swap_fixtures():
    """--unet: a replacement UNet (folder, diffusers-layout file, SGM names) and an LCM UNet with
    time_cond_proj_dim, rendered by diffusers with pipe.unet swapped (unet_swap_fixtures.py)."""
    sys.path.insert(0, HERE)
    import unet_swap_fixtures
    unet_swap_fixtures.main(sys.modules[__name__])


@part
def scheduler_config_fixtures():
    """--scheduler-config, --timesteps and --sigmas: scheduler_config_fixtures.py has the cases."""
    import scheduler_config_fixtures as cases
    cases.schedulers(EXPECTED, SDXL_SCHEDULER_CONFIG, synthetic_model, save)
    cases.renders(MODELS, EXPECTED, save)


def png_fixtures():
    """Small PNGs in other colour types, written by PIL, and PIL's RGB reading of them."""
    from PIL import Image
    import numpy as np
    folder = os.path.join(HERE, "images")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(4)
    images = {
        "gray": Image.fromarray(rng.integers(0, 256, (6, 8), dtype=np.uint8), "L"),
        "gray-alpha": Image.fromarray(rng.integers(0, 256, (5, 7, 2), dtype=np.uint8), "LA"),
        "rgba": Image.fromarray(rng.integers(0, 256, (4, 5, 4), dtype=np.uint8), "RGBA"),
        "palette": Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8), "RGB").quantize(16),
    }
    tensors = {}
    for name, image in images.items():
        image.save(os.path.join(folder, name + ".png"))
        tensors[name] = torch.from_numpy(np.array(Image.open(os.path.join(folder, name + ".png")).convert("RGB")))
    save("png-rgb", tensors)


@part
def image_fixtures():
    """Input images for image-to-image and inpainting (PNG in every colour type and bit depth,
    JPEG gray/RGB/CMYK, baseline/progressive, with EXIF orientation) and what diffusers sees:
    load_image's PIL reading (open, exif_transpose, convert("RGB")), convert("L") for masks, and
    Image.resize with LANCZOS (VaeImageProcessor's default) and NEAREST."""
    import io
    import struct
    import zlib
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter, ImageOps
    folder = os.path.join(HERE, "images")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(20)

    def scene(w, h, seed):
        """Photo-like RGB content: gradients, a few soft shapes, light grain."""
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        r = 40 + 170 * x / max(w - 1, 1)
        g = 60 + 140 * y / max(h - 1, 1)
        b = 128 + 90 * np.sin((x + 2 * y) / (w / 3.0) + seed)
        im = Image.fromarray(np.clip(np.stack([r, g, b], -1), 0, 255).astype(np.uint8), "RGB")
        d = ImageDraw.Draw(im)
        d.ellipse([w * 0.15, h * 0.2, w * 0.55, h * 0.75], fill=(235, 200, 60))
        d.rectangle([w * 0.6, h * 0.1, w * 0.9, h * 0.5], fill=(30, 90, 160))
        d.polygon([(w * 0.5, h * 0.95), (w * 0.8, h * 0.55), (w * 0.98, h * 0.9)], fill=(200, 40, 70))
        im = im.filter(ImageFilter.GaussianBlur(1.2))
        grain = np.random.default_rng(seed).integers(-3, 4, (h, w, 3))
        return Image.fromarray(np.clip(np.asarray(im).astype(int) + grain, 0, 255).astype(np.uint8), "RGB")

    def png_bytes(w, h, bit_depth, color_type, samples, interlace=0, extra=b""):
        """A PNG written directly (PIL cannot write 16-bit RGB or 2-bit gray): samples [h, w, c]
        unpacked, one value each; rows unfiltered; Adam7 passes when interlaced."""
        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        def row_bytes(row):
            if bit_depth == 16:
                return row.astype(">u2").tobytes()
            if bit_depth == 8:
                return row.astype(np.uint8).tobytes()
            per = 8 // bit_depth
            values = [int(v) for v in row] + [0] * (-len(row) % per)
            return bytes(sum(values[i + j] << (8 - bit_depth * (j + 1)) for j in range(per)) for i in range(0, len(values), per))

        a = np.asarray(samples).reshape(h, w, -1)
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)] if interlace else [(0, 0, 1, 1)]
        raw = b""
        for x0, y0, dx, dy in passes:
            sub = a[y0::dy, x0::dx]
            if sub.size:
                raw += b"".join(b"\0" + row_bytes(r.reshape(-1)) for r in sub)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, interlace))
                + extra + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    def write(name, data):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)

    # The inputs named in the tests.
    rgba = np.dstack([np.asarray(scene(70, 50, 1)), np.tile(np.linspace(30, 255, 70), (50, 1)).astype(np.uint8)])
    rgba[10:30, 40:60, 3] = 0  # a fully transparent patch: its colour must still be read
    Image.fromarray(rgba, "RGBA").save(os.path.join(folder, "input-rgba-70x50.png"), optimize=True)
    scene(88, 72, 2).save(os.path.join(folder, "input-photo-88x72.jpg"), "JPEG", quality=90, subsampling=2)
    y, x = np.mgrid[0:30, 0:40]
    gray16 = (x * 16 + y * 4 + 40 * ((x - 28) ** 2 + (y - 12) ** 2 < 40)).astype(np.int64)  # 0...~800: some kept, some clipped
    write("input-gray16-40x30.png", png_bytes(40, 30, 16, 0, gray16))
    y, x = np.mgrid[0:21, 0:33]
    rgb16 = np.stack([x * 1985 + y * 7, y * 3120 + x * 11, (x * y * 97 + 301) % 65536], -1)
    write("input-rgb16-33x21.png", png_bytes(33, 21, 16, 2, rgb16))
    soft = Image.new("L", (70, 50), 0)
    ImageDraw.Draw(soft).ellipse([18, 10, 54, 40], fill=255)
    soft.filter(ImageFilter.GaussianBlur(3)).save(os.path.join(folder, "mask-soft-70x50.png"))
    box = Image.new("RGB", (88, 72), (0, 0, 0))
    ImageDraw.Draw(box).rectangle([20, 16, 66, 54], fill=(255, 255, 255))
    box = np.asarray(box.filter(ImageFilter.GaussianBlur(2.5))).astype(int)
    box[..., 0] += np.tile(np.arange(88) // 11, (72, 1))  # a faint tint, as painted masks have
    Image.fromarray(np.clip(box, 0, 255).astype(np.uint8), "RGB").save(os.path.join(folder, "mask-rgb-88x72.png"))

    # Further colour types, bit depths and JPEG variants, tiny.
    small = scene(24, 16, 3)
    small.convert("L").save(os.path.join(folder, "extra-gray-24x16.jpg"), "JPEG", quality=85)
    small.convert("CMYK").save(os.path.join(folder, "extra-cmyk-24x16.jpg"), "JPEG", quality=85)
    small.save(os.path.join(folder, "extra-progressive-24x16.jpg"), "JPEG", quality=80, progressive=True)
    small.save(os.path.join(folder, "extra-422-24x16.jpg"), "JPEG", quality=80, subsampling=1)
    exif = Image.Exif()
    exif[0x0112] = 6
    scene(20, 12, 4).save(os.path.join(folder, "extra-exif-orientation-20x12.jpg"), "JPEG", quality=85, exif=exif.tobytes())
    exif[0x0112] = 5
    exif.endian = "<"  # the JPEG's EXIF is big-endian (PIL's default); this one little-endian
    scene(7, 5, 5).save(os.path.join(folder, "extra-exif-orientation-7x5.png"), exif=exif.tobytes())
    y, x = np.mgrid[0:9, 0:13]
    write("extra-gray2-interlaced-13x9.png", png_bytes(13, 9, 2, 0, (x + 2 * y) % 4, interlace=1))
    write("extra-gray1-13x9.png", png_bytes(13, 9, 1, 0, (x + y) % 3 == 0))
    write("extra-rgb-gamma1-13x9.png", png_bytes(13, 9, 8, 2, np.asarray(scene(13, 9, 6)),
                                                 extra=chunk(b"gAMA", struct.pack(">I", 100000))))
    # 10 palette entries; indices 10...15 lie past the palette (PIL reads them as black).
    write("extra-palette4-interlaced-13x9.png", png_bytes(13, 9, 4, 3, (x + y) % 16, interlace=1,
                                                          extra=chunk(b"PLTE", bytes(range(7, 37)))))
    write("extra-rgba16-11x7.png", png_bytes(11, 7, 16, 6, rng.integers(0, 65536, (7, 11, 4))))
    write("extra-graya16-11x7.png", png_bytes(11, 7, 16, 4, rng.integers(0, 65536, (7, 11, 2))))

    def u8(a):
        return torch.from_numpy(np.array(a, dtype=np.uint8))

    def load(name):
        """diffusers' load_image: Image.open, ImageOps.exif_transpose, convert("RGB")."""
        return ImageOps.exif_transpose(Image.open(os.path.join(folder, name))).convert("RGB")

    tensors = {}
    for name in sorted(os.listdir(folder)):
        if name.startswith(("input-", "mask-", "extra-")):
            tensors[name] = u8(load(name))
    for name in ("mask-soft-70x50.png", "mask-rgb-88x72.png"):
        tensors[name + ".L"] = u8(load(name).convert("L"))
    lanczos = {"input-rgba-70x50.png": [(64, 48), (40, 104), (131, 77), (100, 20), (70, 12)],
               "input-photo-88x72.jpg": [(88, 72), (64, 64), (200, 30)]}
    for name, sizes in lanczos.items():
        for w, h in sizes:
            tensors[f"{name}.lanczos-{w}x{h}"] = u8(load(name).resize((w, h), Image.LANCZOS))
    mask = load("mask-soft-70x50.png").convert("L")
    for w, h in [(64, 48), (90, 10), (7, 61)]:
        tensors[f"mask-soft-70x50.png.L.lanczos-{w}x{h}"] = u8(mask.resize((w, h), Image.LANCZOS))
    for w, h in [(8, 6), (97, 61), (3, 50)]:
        tensors[f"mask-soft-70x50.png.L.nearest-{w}x{h}"] = u8(mask.resize((w, h), Image.NEAREST))
    tensors["input-rgba-70x50.png.nearest-33x71"] = u8(load("input-rgba-70x50.png").resize((33, 71), Image.NEAREST))
    # Every EXIF orientation: the JPEG above with its Orientation entry (tag 0x0112, SHORT, count
    # 1, big-endian) patched to 1...8, as the Swift test patches it.
    data = open(os.path.join(folder, "extra-exif-orientation-20x12.jpg"), "rb").read()
    entry = bytes([0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00])
    at = data.index(entry) + len(entry)
    for value in range(1, 9):
        patched = data[:at] + bytes([value]) + data[at + 1:]
        tensors[f"exif-orientation-{value}"] = u8(ImageOps.exif_transpose(Image.open(io.BytesIO(patched))).convert("RGB"))
    save("image-inputs", tensors)


@part
def padding_crop_fixtures():
    """The image steps of inpainting with padding_mask_crop, through diffusers' VaeImageProcessor
    and PIL: get_crop_region (regions, and where diffusers fails on black masks), crop + resize
    "fill" as preprocess does them (before normalisation), the "fill" and "crop" resize modes and
    PIL's crop and resize(box=) alone, and apply_overlay. Writes expected/padding-crop.safetensors
    (uint8 images, [h, w, 3] or [h, w]) and expected/padding-crop.json (the cases), and a few
    synthetic masks into images/ (crop-mask-*.png)."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter
    from diffusers.image_processor import VaeImageProcessor
    from diffusers.utils import load_image
    folder = os.path.join(HERE, "images")
    # As StableDiffusionXLInpaintPipeline builds them.
    image_processor = VaeImageProcessor(vae_scale_factor=8)
    mask_processor = VaeImageProcessor(vae_scale_factor=8, do_normalize=False, do_binarize=True, do_convert_grayscale=True)

    def soft_mask(size, boxes, blur):
        im = Image.new("RGB", size, (0, 0, 0))
        for box in boxes:
            ImageDraw.Draw(im).rectangle(box, fill=(255, 255, 255))
        return im.filter(ImageFilter.GaussianBlur(blur)) if blur else im

    # Synthetic masks: touching the top and right edges; a tall thin stripe (the region must
    # grow sideways); a wide stripe by the bottom edge (growing it to a tall aspect runs past
    # the image, so it is shifted and clipped); a single dot near a corner; and a mask that is
    # black to diffusers though not all zeros in RGB ((1, 0, 0) and (0, 0, 1) have luma 0).
    soft_mask((88, 72), [(66, -5, 95, 16)], 2).save(os.path.join(folder, "crop-mask-edge-88x72.png"))
    soft_mask((88, 72), [(40, 8, 43, 63)], 1).save(os.path.join(folder, "crop-mask-tall-88x72.png"))
    soft_mask((70, 50), [(4, 43, 65, 47)], 0).save(os.path.join(folder, "crop-mask-wide-70x50.png"))
    dot = Image.new("RGB", (88, 72), (0, 0, 0))
    dot.putpixel((2, 69), (255, 255, 255))
    dot.save(os.path.join(folder, "crop-mask-dot-88x72.png"))
    y, x = np.mgrid[0:48, 0:64]
    near_black = np.zeros((48, 64, 3), np.uint8)
    near_black[..., 0] = (x + y) % 2
    near_black[..., 2] = (x * y) % 2
    Image.fromarray(near_black, "RGB").save(os.path.join(folder, "crop-mask-black-64x48.png"))

    def load(name):
        return load_image(os.path.join(folder, name))

    def u8(a):
        return torch.from_numpy(np.array(a, dtype=np.uint8))

    def gradient(w, h):
        """The stand-in for a generated image; the Swift test computes the same."""
        y, x = np.mgrid[0:h, 0:w]
        rgb = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x * 3 + y * 5) % 256], -1)
        return Image.fromarray(rgb.astype(np.uint8), "RGB")

    cases = {"regions": [], "preprocess": [], "resize": [], "crop": [], "box_resize": [], "overlay": []}
    tensors = {}

    # get_crop_region, including where diffusers fails: ZeroDivisionError inside it, or a box
    # preprocess cannot use (PIL's crop refuses right < left; an empty crop cannot be resized).
    masks = ["mask-rgb-88x72.png", "mask-soft-70x50.png", "crop-mask-edge-88x72.png", "crop-mask-tall-88x72.png",
             "crop-mask-wide-70x50.png", "crop-mask-dot-88x72.png", "crop-mask-black-64x48.png"]
    sizes = [(64, 64, 8), (1024, 1024, 32), (48, 80, 0), (96, 40, 4), (24, 64, 0), (40, 24, 0), (512, 768, 16),
             (1024, 576, 100), (64, 64, -2), (8, 1000, 3), (1000, 8, 3)]
    black_pads = [(64, 64, p) for p in (0, 8, 24, 31, 32, 33, 40, 1000)] + [(48, 80, 20), (128, 32, 20), (32, 128, 40)]
    for name in masks:
        mask = load(name)
        for w, h, pad in sizes + (black_pads if "black" in name else []):
            case = {"mask": name, "width": w, "height": h, "pad": pad}
            try:
                region = mask_processor.get_crop_region(mask, w, h, pad=pad)
            except ZeroDivisionError:
                case["error"] = "get_crop_region: ZeroDivisionError"
            else:
                case["region"] = [int(v) for v in region]
                try:
                    mask_processor.preprocess(mask, height=h, width=w, resize_mode="fill", crops_coords=region)
                except ValueError as error:
                    case["error"] = f"preprocess: ValueError: {error}"
            cases["regions"].append(case)

    # preprocess with crops_coords and resize_mode="fill", as the pipeline calls it, taken
    # before normalisation: crop, then resize "fill" (RGB), then (mask only) convert("L").
    for key, image_name, mask_name, w, h, pad in [
            ("photo-64x64-pad8", "input-photo-88x72.jpg", "mask-rgb-88x72.png", 64, 64, 8),
            ("photo-48x80-pad0", "input-photo-88x72.jpg", "mask-rgb-88x72.png", 48, 80, 0),
            ("rgba-96x40-pad4", "input-rgba-70x50.png", "mask-soft-70x50.png", 96, 40, 4),
            ("edge-40x56-pad2", "input-photo-88x72.jpg", "crop-mask-edge-88x72.png", 40, 56, 2),
            ("tall-32x32-pad8", "input-photo-88x72.jpg", "crop-mask-tall-88x72.png", 32, 32, 8),
            ("wide-24x64-pad0", "input-rgba-70x50.png", "crop-mask-wide-70x50.png", 24, 64, 0),
            ("dot-40x24-pad0", "input-photo-88x72.jpg", "crop-mask-dot-88x72.png", 40, 24, 0)]:
        image, mask = load(image_name), load(mask_name)
        region = mask_processor.get_crop_region(mask, w, h, pad=pad)
        filled = image_processor.resize(image.crop(region), h, w, resize_mode="fill")
        mask_filled = mask_processor.convert_to_grayscale(mask_processor.resize(mask.crop(region), h, w, resize_mode="fill"))
        assert filled.mode == "RGB" and mask_filled.mode == "L"
        # The same as preprocess itself gives, normalised and binarised.
        pixels = image_processor.preprocess(image, height=h, width=w, crops_coords=region, resize_mode="fill")
        expected = torch.from_numpy(np.array(filled).astype(np.float32) / 255).permute(2, 0, 1)[None] * 2 - 1
        assert torch.equal(pixels, expected), key
        binary = mask_processor.preprocess(mask, height=h, width=w, crops_coords=region, resize_mode="fill")
        assert torch.equal(binary, (torch.from_numpy(np.array(mask_filled).astype(np.float32) / 255)[None, None] >= 0.5).float()), key
        tensors[f"fill.{key}.image"] = u8(filled)
        tensors[f"fill.{key}.mask"] = u8(mask_filled)
        cases["preprocess"].append({"key": key, "image": image_name, "mask": mask_name, "width": w, "height": h, "pad": pad,
                                    "region": [int(v) for v in region]})

    # The resize modes alone, on crops of the inputs: sizes where a band is left black by the
    # floor divisions (a column or row the strips do not reach) or the strips are 0 wide.
    for key, image_name, box, mode, w, h in [
            ("photo-fill-63x33", "input-photo-88x72.jpg", None, "fill", 63, 33),
            ("rgba-fill-40x47", "input-rgba-70x50.png", None, "fill", 40, 47),
            ("photo-fill-27x19", "input-photo-88x72.jpg", (0, 0, 35, 25), "fill", 27, 19),
            ("rgba-fill-31x30", "input-rgba-70x50.png", (30, 0, 62, 30), "fill", 31, 30),
            ("rgba-crop-40x24", "input-rgba-70x50.png", None, "crop", 40, 24),
            ("photo-crop-24x40", "input-photo-88x72.jpg", None, "crop", 24, 40),
            ("photo-crop-33x21", "input-photo-88x72.jpg", (5, 7, 41, 30), "crop", 33, 21)]:
        image = load(image_name)
        if box is not None:
            image = image.crop(box)
        tensors[f"resize.{key}"] = u8(image_processor.resize(image, h, w, resize_mode=mode))
        cases["resize"].append({"key": key, "image": image_name, "box": box, "mode": mode, "width": w, "height": h})

    # PIL's crop with boxes partly outside the image (zeros there), on RGB and on L.
    for key, image_name, box, gray in [("photo-outside", "input-photo-88x72.jpg", (-5, -3, 20, 15), False),
                                       ("rgba-outside", "input-rgba-70x50.png", (60, 40, 75, 58), False),
                                       ("mask-soft-L-outside", "mask-soft-70x50.png", (-2, 30, 20, 55), True)]:
        image = load(image_name)
        if gray:
            image = image.convert("L")
        tensors[f"crop.{key}"] = u8(image.crop(box))
        cases["crop"].append({"key": key, "image": image_name, "box": list(box), "gray": gray})

    # PIL's resize with a box: the fill strips' boxes of no height or width (resample not given,
    # so PIL's default BICUBIC, as _resize_and_fill calls it), boxes inside the image with one or
    # both passes, each filter, and a box of the output's size (a crop).
    filters = {"lanczos": Image.LANCZOS, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}
    for key, image_name, box, w, h, resample in [
            ("photo-top-30x7", "input-photo-88x72.jpg", (0, 0, 88, 0), 30, 7, None),
            ("photo-bottom-88x5", "input-photo-88x72.jpg", (0, 72, 88, 72), 88, 5, None),
            ("photo-right-5x40", "input-photo-88x72.jpg", (88, 0, 88, 72), 5, 40, None),
            ("rgba-left-9x50", "input-rgba-70x50.png", (0, 0, 0, 50), 9, 50, None),
            ("rgba-left-9x50-lanczos", "input-rgba-70x50.png", (0, 0, 0, 50), 9, 50, "lanczos"),
            ("rgba-inner-23x31-lanczos", "input-rgba-70x50.png", (10, 5, 50, 45), 23, 31, "lanczos"),
            ("rgba-inner-60x9-lanczos", "input-rgba-70x50.png", (3, 2, 69, 48), 60, 9, "lanczos"),
            ("rgba-inner-60x9-bicubic", "input-rgba-70x50.png", (3, 2, 69, 48), 60, 9, "bicubic"),
            ("rgba-inner-23x31-nearest", "input-rgba-70x50.png", (10, 5, 50, 45), 23, 31, "nearest"),
            ("photo-whole-100x20-bicubic", "input-photo-88x72.jpg", (0, 0, 88, 72), 100, 20, "bicubic"),
            ("rgba-same-40x40-lanczos", "input-rgba-70x50.png", (10, 5, 50, 45), 40, 40, "lanczos")]:
        options = {} if resample is None else {"resample": filters[resample]}
        tensors[f"box.{key}"] = u8(load(image_name).resize((w, h), box=box, **options))
        cases["box_resize"].append({"key": key, "image": image_name, "box": list(box), "width": w, "height": h,
                                    "filter": resample or "bicubic"})

    # apply_overlay with a gradient as the generated image, as the pipeline calls it (the
    # region from get_crop_region), and without a region (the gradient as it is, of the
    # original's size or not).
    for key, image_name, mask_name, w, h, pad in [
            ("photo-64x64-pad8", "input-photo-88x72.jpg", "mask-rgb-88x72.png", 64, 64, 8),
            ("rgba-96x40-pad4", "input-rgba-70x50.png", "mask-soft-70x50.png", 96, 40, 4),
            ("edge-40x56-pad2", "input-photo-88x72.jpg", "crop-mask-edge-88x72.png", 40, 56, 2),
            ("wide-24x64-pad0", "input-rgba-70x50.png", "crop-mask-wide-70x50.png", 24, 64, 0),
            ("photo-64x64-none", "input-photo-88x72.jpg", "mask-rgb-88x72.png", 64, 64, None),
            ("rgba-70x50-none", "input-rgba-70x50.png", "mask-soft-70x50.png", 70, 50, None)]:
        image, mask = load(image_name), load(mask_name)
        region = None if pad is None else mask_processor.get_crop_region(mask, w, h, pad=pad)
        out = image_processor.apply_overlay(mask, image, gradient(w, h), region)
        assert out.mode == "RGB"
        tensors[f"overlay.{key}"] = u8(out)
        cases["overlay"].append({"key": key, "image": image_name, "mask": mask_name, "width": w, "height": h, "pad": pad,
                                 "region": None if region is None else [int(v) for v in region]})

    save("padding-crop", tensors)
    with open(os.path.join(EXPECTED, "padding-crop.json"), "w") as f:  # one case a line
        f.write("{\n" + ",\n".join(f' "{group}": [\n' + ",\n".join("  " + json.dumps(case) for case in group_cases)
                                    + "\n ]" for group, group_cases in cases.items()) + "\n}\n")


def watermark_fixture():
    """diffusers' watermarker alone, on a fixed image in [-1, 1]."""
    from diffusers.pipelines.stable_diffusion_xl.watermark import StableDiffusionXLWatermarker
    g = torch.Generator("cpu").manual_seed(31)
    # Values on a 1/1024 grid, so float16 storage holds the input exactly.
    image = ((torch.rand(1, 3, 256, 256, generator=g) * 2.2 - 1.1) * 1024).round() / 1024
    marked = StableDiffusionXLWatermarker().apply_watermark(image.clone())
    pixels = ((marked / 2 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)
    save("watermark", {"image": image.to(torch.float16), "marked_pixels": pixels})


# ---------------------------------------------------------------- single-file checkpoints
RESNET_TO_ORIGINAL = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("time_emb_proj", "emb_layers.1"),
                      ("norm2", "out_layers.0"), ("conv2", "out_layers.3"), ("conv_shortcut", "skip_connection")]


def original_unet_keys(unet):
    """diffusers UNet2DConditionModel names -> Stability's original (sgm) names."""
    per = unet.config.layers_per_block + 1
    out = {}
    fixed = {"conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0",
             "time_embedding.linear_2": "time_embed.2", "add_embedding.linear_1": "label_emb.0.0",
             "add_embedding.linear_2": "label_emb.0.2", "conv_norm_out": "out.0", "conv_out": "out.2"}

    def resnet(rest):
        for new, old in RESNET_TO_ORIGINAL:
            if rest.startswith(new + "."):
                return old + rest[len(new):]
        raise KeyError(rest)

    for name, tensor in unet.state_dict().items():
        parts = name.split(".")
        head = ".".join(parts[:2])
        if parts[0] in fixed:
            key = fixed[parts[0]] + "." + ".".join(parts[1:])
        elif head in fixed:
            key = fixed[head] + "." + ".".join(parts[2:])
        elif parts[0] == "down_blocks":
            b = int(parts[1])
            kind, rest = parts[2], ".".join(parts[4:])
            if kind == "downsamplers":
                key = f"input_blocks.{1 + b * per + per - 1}.0.op.{rest.split('.', 1)[1]}"
            else:
                i = 1 + b * per + int(parts[3])
                key = f"input_blocks.{i}.0.{resnet(rest)}" if kind == "resnets" else f"input_blocks.{i}.1.{rest}"
        elif parts[0] == "mid_block":
            kind, j, rest = parts[1], int(parts[2]), ".".join(parts[3:])
            key = f"middle_block.{2 * j}.{resnet(rest)}" if kind == "resnets" else f"middle_block.1.{rest}"
        elif parts[0] == "up_blocks":
            b = int(parts[1])
            kind, rest = parts[2], ".".join(parts[4:])
            has_attention = hasattr(unet.up_blocks[b], "attentions")
            if kind == "upsamplers":
                key = f"output_blocks.{b * per + per - 1}.{2 if has_attention else 1}.conv.{rest.split('.', 1)[1]}"
            else:
                i = b * per + int(parts[3])
                key = f"output_blocks.{i}.0.{resnet(rest)}" if kind == "resnets" else f"output_blocks.{i}.1.{rest}"
        else:
            raise KeyError(name)
        out["model.diffusion_model." + key] = tensor
    return out


def original_vae_keys(vae):
    n = len(vae.config.block_out_channels)
    out = {}
    for name, tensor in vae.state_dict().items():
        key = name.replace("conv_norm_out", "norm_out").replace("conv_shortcut", "nin_shortcut")
        parts = key.split(".")
        if parts[1] == "down_blocks":
            if parts[3] == "resnets":
                key = f"{parts[0]}.down.{parts[2]}.block.{'.'.join(parts[4:])}"
            else:
                key = f"{parts[0]}.down.{parts[2]}.downsample.{'.'.join(parts[5:])}"
        elif parts[1] == "up_blocks":
            b = n - 1 - int(parts[2])
            if parts[3] == "resnets":
                key = f"{parts[0]}.up.{b}.block.{'.'.join(parts[4:])}"
            else:
                key = f"{parts[0]}.up.{b}.upsample.{'.'.join(parts[5:])}"
        elif parts[1] == "mid_block":
            if parts[2] == "resnets":
                key = f"{parts[0]}.mid.block_{int(parts[3]) + 1}.{'.'.join(parts[4:])}"
            else:
                rest = ".".join(parts[4:])
                for new, old in [("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")]:
                    if rest.startswith(new + "."):
                        rest = old + rest[len(new):]
                key = f"{parts[0]}.mid.attn_1.{rest}"
                if tensor.ndim == 2:  # the original stores these as 1x1 convolutions
                    tensor = tensor[:, :, None, None]
        out["first_stage_model." + key] = tensor
    return out


def original_clip_l_keys(model, prefix="conditioner.embedders.0.transformer."):
    out = {}
    for name, tensor in model.state_dict().items():
        name = name if name.startswith("text_model.") else "text_model." + name
        out[prefix + name] = tensor
    positions = model.config.max_position_embeddings
    out[prefix + "text_model.embeddings.position_ids"] = torch.arange(positions, dtype=torch.int64)[None]
    return out


def original_open_clip_keys(model, prefix):
    sd = {k[len("text_model."):] if k.startswith("text_model.") else k: v for k, v in model.state_dict().items()}
    out = {prefix + "positional_embedding": sd["embeddings.position_embedding.weight"],
           prefix + "token_embedding.weight": sd["embeddings.token_embedding.weight"],
           prefix + "ln_final.weight": sd["final_layer_norm.weight"],
           prefix + "ln_final.bias": sd["final_layer_norm.bias"],
           prefix + "text_projection": sd["text_projection.weight"].T.contiguous()}
    for i in range(model.config.num_hidden_layers):
        src, dst = f"encoder.layers.{i}.", f"{prefix}transformer.resblocks.{i}."
        for new, old in [("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"), ("mlp.fc1", "mlp.c_fc"),
                         ("mlp.fc2", "mlp.c_proj"), ("self_attn.out_proj", "attn.out_proj")]:
            for p in ("weight", "bias"):
                out[f"{dst}{old}.{p}"] = sd[f"{src}{new}.{p}"]
        for p in ("weight", "bias"):
            out[f"{dst}attn.in_proj_{p}"] = torch.cat([sd[f"{src}self_attn.{q}_proj.{p}"] for q in "qkv"])
    return out


def write_single_file(pipe, path, refiner, dtype):
    tensors = {}
    tensors.update(original_unet_keys(pipe.unet))
    tensors.update(original_vae_keys(pipe.vae))
    if refiner:
        tensors.update(original_open_clip_keys(pipe.text_encoder_2, "conditioner.embedders.0.model."))
    else:
        tensors.update(original_clip_l_keys(pipe.text_encoder))
        tensors.update(original_open_clip_keys(pipe.text_encoder_2, "conditioner.embedders.1.model."))
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}
    save_file(tensors, path, metadata={"format": "pt"})


def check_single_file(path, config_dir, cls, pipe, dtype):
    """diffusers' own single-file loader must give back the very weights we wrote."""
    loaded = cls.from_single_file(path, config=config_dir, dtype=torch.float32)
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        ours = getattr(pipe, name, None)
        if ours is None:
            continue
        theirs = getattr(loaded, name).state_dict()
        for k, v in ours.state_dict().items():
            expected = v.to(dtype).to(torch.float32)
            got = theirs[k] if k in theirs else theirs[k.replace("text_model.", "", 1)]
            assert torch.equal(got.reshape(expected.shape), expected), f"{path}: {name}.{k} differs"
    return loaded


# ---------------------------------------------------------------- expected outputs
def save(name, tensors):
    """float32, except uint8 and float16 tensors, which keep their (smaller) type."""
    keep = (torch.uint8, torch.float16)
    save_file({k: v.detach().contiguous().to(v.dtype if v.dtype in keep else torch.float32) for k, v in tensors.items()},
              os.path.join(EXPECTED, name + ".safetensors"))


COMPONENT_PROMPT = "a tiny red fox, watercolor; 2 birds!"


@torch.no_grad()
def text_encoder_outputs(folder, prefix, variant=None):
    for sub, cls in (("text_encoder", CLIPTextModel), ("text_encoder_2", CLIPTextModelWithProjection)):
        if not os.path.isdir(os.path.join(folder, sub)):
            continue
        tok = CLIPTokenizer.from_pretrained(os.path.join(folder, sub.replace("text_encoder", "tokenizer")))
        kwargs = {"variant": variant} if variant and sub == "text_encoder" else {}
        if variant and sub != "text_encoder":
            continue
        model = cls.from_pretrained(os.path.join(folder, sub), dtype=torch.float32, **kwargs).eval()
        ids = tok([COMPONENT_PROMPT, ""], padding="max_length", max_length=77,
                  truncation=True, return_tensors="pt").input_ids
        out = model(ids, output_hidden_states=True)
        tensors = {"input_ids": ids.to(torch.float32)}
        for i, h in enumerate(out.hidden_states):
            tensors[f"hidden_states.{i}"] = h
        tensors["last_hidden_state"] = out.last_hidden_state
        if cls is CLIPTextModel:
            tensors["pooler_output"] = out.pooler_output
        else:
            tensors["text_embeds"] = out.text_embeds
        save(f"{prefix}-{sub}" + (f"-{variant}" if variant else ""), tensors)


@torch.no_grad()
def unet_outputs(folder, prefix, time_ids_len):
    unet = UNet2DConditionModel.from_pretrained(os.path.join(folder, "unet"),
                                                dtype=torch.float32).eval()
    cfg = unet.config
    g = torch.Generator("cpu").manual_seed(11)
    sample = torch.randn(2, cfg.in_channels, 16, 12, generator=g)
    hidden = torch.randn(2, 77, cfg.cross_attention_dim, generator=g)
    text_embeds = torch.randn(2, 24, generator=g)
    if time_ids_len == 6:
        time_ids = torch.tensor([[128.0, 96.0, 0.0, 0.0, 128.0, 96.0], [64.0, 64.0, 16.0, 8.0, 128.0, 96.0]])
    else:
        time_ids = torch.tensor([[128.0, 96.0, 0.0, 0.0, 6.0], [128.0, 96.0, 0.0, 0.0, 2.5]])
    timestep = torch.tensor(681.0)
    out = unet(sample, timestep, encoder_hidden_states=hidden,
               added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids}).sample
    save(f"{prefix}-unet", {"sample": sample, "timestep": timestep.reshape(1),
                             "encoder_hidden_states": hidden, "text_embeds": text_embeds,
                             "time_ids": time_ids, "out": out})


@torch.no_grad()
def single_file_outputs(refiner):
    """The fp16 refiner checkpoint as diffusers loads it: text encoder and UNet outputs."""
    tok = refiner.tokenizer_2
    ids = tok([COMPONENT_PROMPT, ""], padding="max_length", max_length=77, truncation=True,
              return_tensors="pt").input_ids
    te = refiner.text_encoder_2(ids, output_hidden_states=True)
    g = torch.Generator("cpu").manual_seed(13)
    sample = torch.randn(1, 4, 8, 8, generator=g)
    hidden = torch.randn(1, 77, refiner.unet.config.cross_attention_dim, generator=g)
    text_embeds = torch.randn(1, 24, generator=g)
    time_ids = torch.tensor([[64.0, 64.0, 0.0, 0.0, 6.0]])
    out = refiner.unet(sample, torch.tensor(300.0), encoder_hidden_states=hidden,
                       added_cond_kwargs={"text_embeds": text_embeds, "time_ids": time_ids}).sample
    save("refiner-single-file", {"input_ids": ids.to(torch.float32), "hidden_states.-2": te.hidden_states[-2],
                                 "text_embeds_out": te.text_embeds, "sample": sample, "timestep": torch.tensor([300.0]),
                                 "encoder_hidden_states": hidden, "text_embeds": text_embeds,
                                 "time_ids": time_ids, "out": out})


@torch.no_grad()
def vae_outputs(folder, prefix):
    model = AutoencoderKL.from_pretrained(os.path.join(folder, "vae"), dtype=torch.float32).eval()
    g = torch.Generator("cpu").manual_seed(12)
    image = torch.rand(1, 3, 64, 48, generator=g) * 2 - 1
    dist = model.encode(image).latent_dist
    latents = torch.randn(1, 4, 8, 6, generator=g)
    decoded = model.decode(latents).sample
    save(f"{prefix}-vae", {"image": image, "mean": dist.mean, "logvar": dist.logvar,
                            "latents": latents, "decoded": decoded})


def parameter_counts(folders):
    """torch's own parameter counts per component, for `kiln inspect` to be checked against."""
    counts = {}
    for folder in folders:
        entry = {}
        for sub, cls in (("text_encoder", CLIPTextModel), ("text_encoder_2", CLIPTextModelWithProjection),
                         ("unet", UNet2DConditionModel), ("vae", AutoencoderKL)):
            if os.path.isdir(os.path.join(folder, sub)):
                model = cls.from_pretrained(os.path.join(folder, sub), dtype=torch.float32)
                entry[sub] = {"class": cls.__name__, "parameters": sum(p.numel() for p in model.parameters())}
        counts[os.path.basename(folder)] = entry
    with open(os.path.join(EXPECTED, "parameter_counts.json"), "w") as f:
        json.dump(counts, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------- modes: img2img, inpainting, refiner
# Each case is a list of diffusers pipeline calls (a stage each, the later ones taking the earlier
# one's latents) and the Kiln request (RenderRequest's coded names) that should give the same image.
# Every call gets its own generator seeded with the case's seed, as `kiln` seeds each stage.
BASE_PROMPT = "a watercolor fox in a snowy forest"
MODE_CASES = [
    # name, seed, scheduler, request fields (besides prompt/seed/scheduler/watermark), stages
    ("img2img-rgba-03", 7, "euler",
     {"num_inference_steps": 10, "strength": 0.3, "image": "input-rgba-70x50.png"},
     [("img2img", "tiny-sdxl-base", {"image": "input-rgba-70x50.png", "strength": 0.3, "num_inference_steps": 10})]),
    ("img2img-jpeg-075", 11, "dpmpp-2m",
     {"num_inference_steps": 8, "strength": 0.75, "image": "input-photo-88x72.jpg", "negative_prompt": "blurry",
      "guidance_scale": 6.5},
     [("img2img", "tiny-sdxl-base", {"image": "input-photo-88x72.jpg", "strength": 0.75, "num_inference_steps": 8,
                                     "negative_prompt": "blurry", "guidance_scale": 6.5})]),
    ("refiner-img2img", 5, "euler-a",
     {"num_inference_steps": 10, "strength": 0.5, "image": "input-rgba-70x50.png", "aesthetic_score": 7.0},
     [("img2img", "tiny-sdxl-refiner", {"image": "input-rgba-70x50.png", "strength": 0.5, "num_inference_steps": 10,
                                        "aesthetic_score": 7.0})]),
    ("inpaint-4ch", 3, "euler",
     {"num_inference_steps": 10, "image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png"},
     [("inpaint", "tiny-sdxl-base", {"image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png",
                                     "num_inference_steps": 10, "width": 88, "height": 72})]),
    ("inpaint-4ch-half", 8, "ddim",
     {"num_inference_steps": 10, "strength": 0.5, "image": "input-rgba-70x50.png", "mask_image": "mask-soft-70x50.png"},
     [("inpaint", "tiny-sdxl-base", {"image": "input-rgba-70x50.png", "mask_image": "mask-soft-70x50.png", "strength": 0.5,
                                     "num_inference_steps": 10, "width": 64, "height": 48})]),
    ("inpaint-9ch", 4, "unipc",
     {"num_inference_steps": 8, "image": "input-rgba-70x50.png", "mask_image": "mask-soft-70x50.png"},
     [("inpaint", "tiny-sdxl-inpaint", {"image": "input-rgba-70x50.png", "mask_image": "mask-soft-70x50.png",
                                        "num_inference_steps": 8, "width": 64, "height": 48})]),
    ("inpaint-9ch-crop", 9, "euler",
     {"num_inference_steps": 8, "image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png",
      "padding_mask_crop": 8, "width": 64, "height": 64},
     [("inpaint", "tiny-sdxl-inpaint", {"image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png",
                                        "num_inference_steps": 8, "width": 64, "height": 64, "padding_mask_crop": 8})]),
    ("ensemble-euler-a-08", 21, "euler-a",
     {"num_inference_steps": 10, "width": 72, "height": 56, "refiner": "tiny-sdxl-refiner", "high_noise_frac": 0.8},
     [("text2img", "tiny-sdxl-base", {"num_inference_steps": 10, "width": 72, "height": 56, "denoising_end": 0.8}),
      ("img2img", "tiny-sdxl-refiner", {"num_inference_steps": 10, "denoising_start": 0.8})]),
    ("ensemble-dpmpp-07", 22, "dpmpp-2m",
     {"num_inference_steps": 12, "width": 64, "height": 80, "refiner": "tiny-sdxl-refiner", "high_noise_frac": 0.7},
     [("text2img", "tiny-sdxl-base", {"num_inference_steps": 12, "width": 64, "height": 80, "denoising_end": 0.7}),
      ("img2img", "tiny-sdxl-refiner", {"num_inference_steps": 12, "denoising_start": 0.7})]),
    ("ensemble-heun-075", 23, "heun",
     {"num_inference_steps": 6, "width": 64, "height": 64, "refiner": "tiny-sdxl-refiner", "high_noise_frac": 0.75},
     [("text2img", "tiny-sdxl-base", {"num_inference_steps": 6, "width": 64, "height": 64, "denoising_end": 0.75}),
      ("img2img", "tiny-sdxl-refiner", {"num_inference_steps": 6, "denoising_start": 0.75})]),
    ("base-then-refiner", 24, "euler",
     {"num_inference_steps": 8, "width": 64, "height": 48, "refiner": "tiny-sdxl-refiner", "refine_after": True,
      "refiner_strength": 0.3},
     [("text2img", "tiny-sdxl-base", {"num_inference_steps": 8, "width": 64, "height": 48}),
      ("img2img", "tiny-sdxl-refiner", {"num_inference_steps": 8, "strength": 0.3})]),
    ("inpaint-refiner", 25, "euler",
     {"num_inference_steps": 10, "image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png",
      "refiner": "tiny-sdxl-refiner", "high_noise_frac": 0.7},
     [("inpaint", "tiny-sdxl-base", {"image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png",
                                     "num_inference_steps": 10, "width": 88, "height": 72, "denoising_end": 0.7}),
      ("inpaint", "tiny-sdxl-refiner", {"mask_image": "mask-rgb-88x72.png", "num_inference_steps": 10, "width": 88,
                                        "height": 72, "denoising_start": 0.7})]),
]


@part
@torch.no_grad()
def mode_fixtures():
    import hashlib
    import diffusers
    from diffusers import StableDiffusionXLInpaintPipeline
    from diffusers.utils import load_image
    classes = {"text2img": StableDiffusionXLPipeline, "img2img": StableDiffusionXLImg2ImgPipeline,
               "inpaint": StableDiffusionXLInpaintPipeline}
    images = os.path.join(HERE, "images")

    def reference(file):
        with open(os.path.join(images, file), "rb") as f:
            return {"sha256": hashlib.sha256(f.read()).hexdigest(), "file": file}

    cases = []
    for name, seed, scheduler, fields, stages in MODE_CASES:
        latents = None
        for i, (kind, model, args) in enumerate(stages):
            pipe = classes[kind].from_pretrained(os.path.join(MODELS, model), dtype=torch.float32, add_watermarker=False)
            cls_name, options = SCHEDULER_CLASSES[scheduler]
            pipe.scheduler = getattr(diffusers, cls_name).from_config(pipe.scheduler.config, **options)
            pipe.set_progress_bar_config(disable=True)
            call = dict(args, prompt=BASE_PROMPT)
            for key in ("image", "mask_image"):
                if key in call:
                    call[key] = load_image(os.path.join(images, call[key]))
            if i > 0:
                call["image"] = latents
            last = i == len(stages) - 1
            # padding_mask_crop pastes back onto the PIL original, so it needs PIL output.
            kind_out = ("pil" if "padding_mask_crop" in call else "np") if last else "latent"
            out = pipe(**call, generator=torch.Generator("cpu").manual_seed(seed), output_type=kind_out).images
            if kind_out == "pil":
                import numpy as np
                pixels = torch.from_numpy(np.stack([np.array(image) for image in out]))
            elif last:
                pixels = torch.from_numpy((out * 255).round().astype("uint8"))
            else:
                latents = out
        save("mode-" + name, {"pixels": pixels})
        request = dict(fields, version=2, prompt=BASE_PROMPT, seed=seed, scheduler=scheduler, watermark=False)
        for key in ("image", "mask_image"):
            if key in request:
                request[key] = reference(request[key])
        cases.append({"name": name, "model": stages[0][1], "request": request})
    with open(os.path.join(EXPECTED, "modes.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------- one generator through both stages
# The refiner as diffusers' users write it: one torch.Generator passed to the base and then to the
# refiner, which continues from the base's draws (initial noise, VAE samples, ancestral step noise).
# Kiln renders requests of version 3 so; modes.json above keeps a generator per stage (version 2).
ONE_GENERATOR_CASES = [
    # name, seed, scheduler, request fields (besides prompt/seed/scheduler/watermark), stages
    ("base-then-refiner-euler-a-88x56", 41, "euler-a",
     {"num_inference_steps": 8, "width": 88, "height": 56, "refiner": "tiny-sdxl-refiner", "refine_after": True,
      "refiner_strength": 0.4},
     [("text2img", "tiny-sdxl-base", {"num_inference_steps": 8, "width": 88, "height": 56}),
      ("img2img", "tiny-sdxl-refiner", {"num_inference_steps": 8, "strength": 0.4})]),
    ("base-then-refiner-euler-56x80-two-images", 42, "euler",
     {"num_inference_steps": 9, "width": 56, "height": 80, "refiner": "tiny-sdxl-refiner", "refine_after": True,
      "refiner_strength": 0.3, "num_images_per_prompt": 2},
     [("text2img", "tiny-sdxl-base", {"num_inference_steps": 9, "width": 56, "height": 80, "num_images_per_prompt": 2}),
      ("img2img", "tiny-sdxl-refiner", {"num_inference_steps": 9, "strength": 0.3, "num_images_per_prompt": 2})]),
    ("ensemble-euler-a-72x104", 43, "euler-a",
     {"num_inference_steps": 10, "width": 72, "height": 104, "refiner": "tiny-sdxl-refiner", "high_noise_frac": 0.7},
     [("text2img", "tiny-sdxl-base", {"num_inference_steps": 10, "width": 72, "height": 104, "denoising_end": 0.7}),
      ("img2img", "tiny-sdxl-refiner", {"num_inference_steps": 10, "denoising_start": 0.7})]),
    ("img2img-ensemble-euler-a-64x48", 44, "euler-a",
     {"num_inference_steps": 10, "strength": 0.6, "image": "input-rgba-70x50.png", "refiner": "tiny-sdxl-refiner",
      "high_noise_frac": 0.8},
     [("img2img", "tiny-sdxl-base", {"image": "input-rgba-70x50.png", "strength": 0.6, "num_inference_steps": 10,
                                     "denoising_end": 0.8}),
      ("img2img", "tiny-sdxl-refiner", {"num_inference_steps": 10, "denoising_start": 0.8})]),
    ("inpaint-ensemble-euler-88x72", 45, "euler",
     {"num_inference_steps": 10, "image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png",
      "refiner": "tiny-sdxl-refiner", "high_noise_frac": 0.75},
     [("inpaint", "tiny-sdxl-base", {"image": "input-photo-88x72.jpg", "mask_image": "mask-rgb-88x72.png",
                                     "num_inference_steps": 10, "width": 88, "height": 72, "denoising_end": 0.75}),
      ("inpaint", "tiny-sdxl-refiner", {"mask_image": "mask-rgb-88x72.png", "num_inference_steps": 10, "width": 88,
                                        "height": 72, "denoising_start": 0.75})]),
    ("inpaint-then-refiner-euler-a-64x48", 46, "euler-a",
     {"num_inference_steps": 8, "image": "input-rgba-70x50.png", "mask_image": "mask-soft-70x50.png", "width": 64,
      "height": 48, "refiner": "tiny-sdxl-refiner", "refine_after": True, "refiner_strength": 0.3},
     [("inpaint", "tiny-sdxl-base", {"image": "input-rgba-70x50.png", "mask_image": "mask-soft-70x50.png",
                                     "num_inference_steps": 8, "width": 64, "height": 48}),
      ("inpaint", "tiny-sdxl-refiner", {"mask_image": "mask-soft-70x50.png", "num_inference_steps": 8, "width": 64,
                                        "height": 48, "strength": 0.3})]),
]


@part
@torch.no_grad()
def one_generator_fixtures():
    """Base then refiner, the ensemble of experts and inpainting with the refiner, each with one
    generator through both pipeline calls. Writes expected/one-generator.json (the Kiln requests,
    version 3) and expected/one-generator-NAME.safetensors (diffusers' pixels, [n, h, w, 3])."""
    import hashlib
    import diffusers
    from diffusers import StableDiffusionXLInpaintPipeline
    from diffusers.utils import load_image
    classes = {"text2img": StableDiffusionXLPipeline, "img2img": StableDiffusionXLImg2ImgPipeline,
               "inpaint": StableDiffusionXLInpaintPipeline}
    images = os.path.join(HERE, "images")

    def reference(file):
        with open(os.path.join(images, file), "rb") as f:
            return {"sha256": hashlib.sha256(f.read()).hexdigest(), "file": file}

    def pipeline(kind, model, scheduler):
        pipe = classes[kind].from_pretrained(os.path.join(MODELS, model), dtype=torch.float32, add_watermarker=False)
        cls_name, options = SCHEDULER_CLASSES[scheduler]
        pipe.scheduler = getattr(diffusers, cls_name).from_config(pipe.scheduler.config, **options)
        pipe.set_progress_bar_config(disable=True)
        return pipe

    def inputs(args):
        call = dict(args, prompt=BASE_PROMPT)
        for key in ("image", "mask_image"):
            if key in call:
                call[key] = load_image(os.path.join(images, call[key]))
        return call

    cases = []
    for name, seed, scheduler, fields, ((base_kind, base_model, base_args), (refiner_kind, refiner_model, refiner_args)) \
            in ONE_GENERATOR_CASES:
        base = pipeline(base_kind, base_model, scheduler)
        refiner = pipeline(refiner_kind, refiner_model, scheduler)
        g = torch.Generator("cpu").manual_seed(seed)
        latents = base(**inputs(base_args), generator=g, output_type="latent").images
        out = refiner(**inputs(refiner_args), image=latents, generator=g, output_type="np").images
        save("one-generator-" + name, {"pixels": torch.from_numpy((out * 255).round().astype("uint8"))})
        request = dict(fields, version=3, prompt=BASE_PROMPT, seed=seed, scheduler=scheduler, watermark=False)
        for key in ("image", "mask_image"):
            if key in request:
                request[key] = reference(request[key])
        cases.append({"name": name, "model": base_model, "request": request})
    with open(os.path.join(EXPECTED, "one-generator.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------- VAE tiling
# pipe.vae.enable_tiling() (diffusers 0.42 dropped pipe.enable_vae_tiling): the tiny VAE's sample_size (128) makes tiles of 16 latents / 128
# pixels, so a 272x168 render decodes in 2 x 3 tiles and a 264x200 input encodes in 3 x 3.
TILING_PROMPT = "a harbour at dusk, many boats"


@part
@torch.no_grad()
def vae_tiling_fixtures():
    import numpy as np
    from PIL import Image
    base_dir = os.path.join(MODELS, "tiny-sdxl-base")
    vae = AutoencoderKL.from_pretrained(os.path.join(base_dir, "vae"), dtype=torch.float32).eval()
    vae.enable_tiling()
    g = torch.Generator("cpu").manual_seed(31)
    latents = torch.randn(2, 4, 21, 34, generator=g)
    decoded = vae.decode(latents).sample
    image = torch.rand(1, 3, 200, 264, generator=g) * 2 - 1
    dist = vae.encode(image).latent_dist
    save("vae-tiled", {"latents": latents, "decoded": decoded, "image": image, "mean": dist.mean, "logvar": dist.logvar})

    # An input larger than one tile: smooth colour fields with some texture, as a photo has.
    y, x = np.mgrid[0:200, 0:264].astype(np.float32)
    rng = np.random.default_rng(32)
    scene = np.stack([128 + 100 * np.sin(x / 23 + c) * np.cos(y / 31 - c) for c in range(3)], axis=-1)
    scene += rng.normal(0, 12, scene.shape)
    Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8)).save(os.path.join(HERE, "images", "tiling-scene-264x200.png"))

    text = StableDiffusionXLPipeline.from_pretrained(base_dir, dtype=torch.float32, add_watermarker=False)
    text.vae.enable_tiling()
    text.set_progress_bar_config(disable=True)
    out = text(prompt=TILING_PROMPT, width=272, height=168, num_inference_steps=3, guidance_scale=5.0,
               generator=torch.Generator("cpu").manual_seed(33), output_type="np").images
    pixels = {"text2img": torch.from_numpy((out * 255).round().astype("uint8"))}
    img2img = StableDiffusionXLImg2ImgPipeline.from_pretrained(base_dir, dtype=torch.float32, add_watermarker=False)
    img2img.vae.enable_tiling()
    img2img.set_progress_bar_config(disable=True)
    source = Image.open(os.path.join(HERE, "images", "tiling-scene-264x200.png"))
    out = img2img(prompt=TILING_PROMPT, image=source, strength=0.6, num_inference_steps=5, guidance_scale=5.0,
                  generator=torch.Generator("cpu").manual_seed(34), output_type="np").images
    pixels["img2img"] = torch.from_numpy((out * 255).round().astype("uint8"))
    save("render-vae-tiling", pixels)


# ---------------------------------------------------------------- bfloat16
# What --precision bf16 is measured against: the same renders by diffusers in float32 and with
# dtype=torch.bfloat16 (weights and activations in bf16), kept as float pixels (0..1) so a test
# can compute torch's own bf16 error and hold Kiln's bf16 error to at most 1.5x of it.
BF16_PROMPT = "a lighthouse on a cliff, stormy sea"
BF16_CASES = [  # name, call arguments, seed
    ("text2img-200x136", dict(width=200, height=136, num_inference_steps=4, guidance_scale=5.0), 51),
    ("text2img-128x184", dict(width=128, height=184, num_inference_steps=3, guidance_scale=6.0), 52),
    ("img2img-88x72", dict(image="input-photo-88x72.jpg", strength=0.7, num_inference_steps=5, guidance_scale=5.0), 53),
]


@part
@torch.no_grad()
def bf16_fixtures():
    from diffusers.utils import load_image
    base_dir = os.path.join(MODELS, "tiny-sdxl-base")
    out = {}
    for dtype, suffix in ((torch.float32, "fp32"), (torch.bfloat16, "bf16")):
        text = StableDiffusionXLPipeline.from_pretrained(base_dir, dtype=dtype, add_watermarker=False)
        img2img = StableDiffusionXLImg2ImgPipeline.from_pretrained(base_dir, dtype=dtype, add_watermarker=False)
        for pipe in (text, img2img):
            pipe.set_progress_bar_config(disable=True)
        for name, args, seed in BF16_CASES:
            call = dict(args, prompt=BF16_PROMPT)
            pipe = text
            if "image" in call:
                call["image"] = load_image(os.path.join(HERE, "images", call["image"]))
                pipe = img2img
            images = pipe(**call, generator=torch.Generator("cpu").manual_seed(seed), output_type="np").images
            out[f"{name}/{suffix}"] = torch.from_numpy(images.astype("float32"))
    save("render-bf16", out)


# ---------------------------------------------------------------- LoRA
# transformers 5.24 asks for peft >= 0.22 before it loads text-encoder adapters, and the package
# index serves peft 0.21.2 at most; its adapter code works with that version, so the check is
# skipped (lora_fixtures asserts that the adapters diffusers loaded equal the file's tensors).
LORA_PROMPT = "a paper lantern on a river at night"


def sgm_unet_name(module, layers_per_block):
    """diffusers UNet module path -> original Stability ("SGM") path, as kohya's SDXL files name them."""
    per = layers_per_block + 1
    resnet = {"conv1": "in_layers.2", "conv2": "out_layers.3", "time_emb_proj": "emb_layers.1",
              "conv_shortcut": "skip_connection", "norm1": "in_layers.0", "norm2": "out_layers.0"}
    parts = module.split(".")

    def rest_of(tail, is_resnet):
        if is_resnet and tail and tail[0] in resnet:
            return resnet[tail[0]].split(".") + tail[1:]
        return tail
    if parts[0] == "down_blocks":
        b, kind, l, tail = int(parts[1]), parts[2], int(parts[3]), parts[4:]
        return ".".join(["input_blocks", str(1 + b * per + l), "1" if kind == "attentions" else "0"] + rest_of(tail, kind == "resnets"))
    if parts[0] == "up_blocks":
        b, kind, l, tail = int(parts[1]), parts[2], int(parts[3]), parts[4:]
        return ".".join(["output_blocks", str(b * per + l), "1" if kind == "attentions" else "0"] + rest_of(tail, kind == "resnets"))
    if parts[0] == "mid_block":
        kind, j, tail = parts[1], int(parts[2]), parts[3:]
        return ".".join(["middle_block", "1" if kind == "attentions" else str(2 * j)] + rest_of(tail, kind == "resnets"))
    raise ValueError(module)


def kohya_from_peft(state, alphas, layers_per_block):
    """A diffusers/PEFT LoRA state dict in kohya's layout (SGM names, lora_down/lora_up/alpha)."""
    out = {}
    for key, value in state.items():
        if not key.endswith("lora_A.weight"):
            continue
        component, module = key[: -len(".lora_A.weight")].split(".", 1)
        if component == "unet":
            name = "lora_unet_" + sgm_unet_name(module, layers_per_block).replace(".", "_")
        else:
            prefix = "lora_te1_" if component == "text_encoder" else "lora_te2_"
            full = module if module.startswith("text_model.") else "text_model." + module
            name = prefix + full.replace(".", "_")
        out[name + ".lora_down.weight"] = value
        out[name + ".lora_up.weight"] = state[key.replace("lora_A", "lora_B")]
        out[name + ".alpha"] = torch.tensor(float(alphas[component]))
    return out


@part
@torch.no_grad()
def lora_fixtures():
    import transformers.integrations.peft as transformers_peft
    transformers_peft.check_peft_version = lambda *args, **kwargs: None
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import load_file
    base_dir = os.path.join(MODELS, "tiny-sdxl-base")
    folder = os.path.join(HERE, "loras")
    os.makedirs(folder, exist_ok=True)

    def make(name, seed, unet_targets, rank, alpha, te_rank, te_alpha):
        torch.manual_seed(seed)
        pipe = StableDiffusionXLPipeline.from_pretrained(base_dir, dtype=torch.float32)
        pipe.unet.add_adapter(LoraConfig(r=rank, lora_alpha=alpha, target_modules=unet_targets, init_lora_weights=False))
        pipe.text_encoder.add_adapter(LoraConfig(r=te_rank, lora_alpha=te_alpha, target_modules=["q_proj", "v_proj", "fc1"],
                                                 init_lora_weights=False))
        pipe.text_encoder_2.add_adapter(LoraConfig(r=te_rank, lora_alpha=te_alpha, target_modules=["k_proj", "out_proj", "fc2"],
                                                   init_lora_weights=False))
        layers = {"unet": get_peft_model_state_dict(pipe.unet), "text_encoder": get_peft_model_state_dict(pipe.text_encoder),
                  "text_encoder_2": get_peft_model_state_dict(pipe.text_encoder_2)}
        StableDiffusionXLPipeline.save_lora_weights(
            folder, weight_name=name + "-peft.safetensors", unet_lora_layers=layers["unet"],
            text_encoder_lora_layers=layers["text_encoder"], text_encoder_2_lora_layers=layers["text_encoder_2"],
            unet_lora_adapter_metadata=pipe.unet.peft_config["default"].to_dict(),
            text_encoder_lora_adapter_metadata=pipe.text_encoder.peft_config["default"].to_dict(),
            text_encoder_2_lora_adapter_metadata=pipe.text_encoder_2.peft_config["default"].to_dict())
        state = load_file(os.path.join(folder, name + "-peft.safetensors"))
        alphas = {"unet": alpha, "text_encoder": te_alpha, "text_encoder_2": te_alpha}
        kohya = kohya_from_peft(state, alphas, pipe.unet.config.layers_per_block)
        save_file({k: v.contiguous() for k, v in kohya.items()}, os.path.join(folder, name + "-kohya.safetensors"))

    # Attention projections, feed-forward and (LoCon) the resnets' 3x3 convolutions.
    make("lantern", 41, ["to_q", "to_k", "to_v", "to_out.0", "ff.net.2", "conv1", "conv2"], 4, 8, 2, 4)
    make("river", 42, ["to_k", "proj_in", "proj_out", "time_emb_proj"], 2, 2, 2, 1)

    # diffusers 0.42.1 with transformers 5 drops the CLIP-L self-attention modules of kohya files
    # (CLIPTextModel lost its text_model wrapper; kohya names keep it), so the kohya files are
    # checked against the renders of the PEFT files holding the same tensors.
    for name in ("lantern", "river"):
        peft_state = load_file(os.path.join(folder, name + "-peft.safetensors"))
        kohya_state = load_file(os.path.join(folder, name + "-kohya.safetensors"))
        assert len(kohya_state) == len(peft_state) // 2 * 3  # down, up, alpha for each A, B pair
    cases = [("lantern-peft", [("lantern-peft", 0.8)]), ("two-loras", [("lantern-peft", 0.8), ("river-peft", 0.5)])]
    records = []
    for name, loras in cases:
        pipe = StableDiffusionXLPipeline.from_pretrained(base_dir, dtype=torch.float32, add_watermarker=False)
        pipe.set_progress_bar_config(disable=True)
        for file, _ in loras:
            pipe.load_lora_weights(folder, weight_name=file + ".safetensors", adapter_name=file.replace("-", "_"))
        pipe.set_adapters([f.replace("-", "_") for f, _ in loras], [s for _, s in loras])
        if name == "lantern-peft":  # the adapters diffusers loaded are the file's tensors
            state = load_file(os.path.join(folder, "lantern-peft.safetensors"))
            loaded = {k: v for k, v in pipe.unet.state_dict().items() if ".lora_A." in k}
            assert loaded and all(torch.equal(v, state["unet." + k.replace(".lantern_peft", "")]) for k, v in loaded.items())
        out = pipe(prompt=LORA_PROMPT, num_inference_steps=6, width=64, height=48,
                   generator=torch.Generator("cpu").manual_seed(13), output_type="np").images
        pixels = torch.from_numpy((out * 255).round().astype("uint8"))
        save("lora-" + name, {"pixels": pixels})
        records.append({"name": name, "loras": [{"file": f + ".safetensors", "scale": s} for f, s in loras],
                        "request": {"version": 2, "prompt": LORA_PROMPT, "num_inference_steps": 6, "width": 64, "height": 48,
                                    "seed": 13, "watermark": False}})
    with open(os.path.join(EXPECTED, "loras.json"), "w") as f:
        json.dump(records, f, indent=1, sort_keys=True)


@part
def lora_layout_fixtures():
    """LoRA files in the key layouts few-step LoRAs ship in, loaded and rendered by diffusers
    (lora_layout_fixtures.py)."""
    sys.path.insert(0, HERE)
    import lora_layout_fixtures
    lora_layout_fixtures.main(HERE, MODELS, EXPECTED, save, sgm_unet_name)


TF5_RENDER = {"name": "tf5", "scheduler": "euler", "seed": 3, "watermark": False,
              "args": {"prompt": "a red fox jumping!! over a fence, (snow:1.2)", "negative_prompt": "blurry, dark",
                       "num_inference_steps": 4, "guidance_scale": 6.0, "width": 96, "height": 64}}


@part
@torch.no_grad()
def transformers5_fixtures():
    """The tiny base pipeline as users get it from current diffusers and transformers 5:
    from_pretrained then save_pretrained writes tokenizers as tokenizer.json + tokenizer_config.json
    (no vocab.json or merges.txt), text encoders without `text_model.`, the UNet in one file.
    Then diffusers' render of that folder (render-tf5, args in render-tf5.json)."""
    name = "tiny-sdxl-base-tf5"
    folder = os.path.join(MODELS, name)
    shutil.rmtree(folder, ignore_errors=True)
    cwd = os.getcwd()
    os.chdir(MODELS)  # model_index.json records the name it was loaded from, not this machine's path
    try:
        pipe = StableDiffusionXLPipeline.from_pretrained("tiny-sdxl-base", dtype=torch.float32)
        pipe.save_pretrained(name, safe_serialization=True)
    finally:
        os.chdir(cwd)
    for sub in ("tokenizer", "tokenizer_2"):
        files = sorted(os.listdir(os.path.join(folder, sub)))
        assert files == ["tokenizer.json", "tokenizer_config.json"], (sub, files)
    pipe = StableDiffusionXLPipeline.from_pretrained(folder, dtype=torch.float32, add_watermarker=False)
    pipe.set_progress_bar_config(disable=True)
    case = TF5_RENDER
    out = pipe(**case["args"], generator=torch.Generator("cpu").manual_seed(case["seed"]), output_type="np").images
    save("render-tf5", {"pixels": torch.from_numpy((out * 255).round().astype("uint8"))})
    with open(os.path.join(EXPECTED, "render-tf5.json"), "w") as f:
        json.dump(case, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------- textual inversion
EMBEDDING_PROMPT = "a <lantern-style> floating on a dark river"


@part
@torch.no_grad()
def embedding_fixtures():
    """An SDXL textual-inversion file (clip_l and clip_g, two vectors for one token), loaded into both
    encoders as the SDXL guide does, and a CLIP-L-only file in A1111's emb_params form."""
    from safetensors.torch import load_file
    folder = os.path.join(HERE, "embeddings")
    os.makedirs(folder, exist_ok=True)
    g = torch.Generator().manual_seed(51)
    save_file({"clip_l": torch.randn(2, 16, generator=g) * 0.5, "clip_g": torch.randn(2, 32, generator=g) * 0.5},
              os.path.join(folder, "lantern-style.safetensors"))
    save_file({"emb_params": torch.randn(1, 16, generator=g) * 0.5}, os.path.join(folder, "glow.safetensors"))
    state = load_file(os.path.join(folder, "lantern-style.safetensors"))
    pipe = StableDiffusionXLPipeline.from_pretrained(os.path.join(MODELS, "tiny-sdxl-base"), dtype=torch.float32,
                                                     add_watermarker=False)
    pipe.set_progress_bar_config(disable=True)
    pipe.load_textual_inversion(state["clip_g"], token="<lantern-style>", text_encoder=pipe.text_encoder_2,
                                tokenizer=pipe.tokenizer_2)
    pipe.load_textual_inversion(state["clip_l"], token="<lantern-style>", text_encoder=pipe.text_encoder,
                                tokenizer=pipe.tokenizer)
    glow = load_file(os.path.join(folder, "glow.safetensors"))["emb_params"]
    pipe.load_textual_inversion(glow, token="glow", text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer)
    prompt = EMBEDDING_PROMPT + ", glow"
    ids = {"tokenizer": pipe.tokenizer(pipe.maybe_convert_prompt(prompt, pipe.tokenizer)).input_ids,
           "tokenizer_2": pipe.tokenizer_2(pipe.maybe_convert_prompt(prompt, pipe.tokenizer_2)).input_ids}
    out = pipe(prompt=prompt, num_inference_steps=5, width=64, height=64,
               generator=torch.Generator("cpu").manual_seed(17), output_type="np").images
    save("embedding-render", {"pixels": torch.from_numpy((out * 255).round().astype("uint8"))})
    with open(os.path.join(EXPECTED, "embeddings.json"), "w") as f:
        json.dump({"prompt": prompt, "ids": ids, "steps": 5, "width": 64, "height": 64, "seed": 17}, f, indent=1, sort_keys=True)


# dynamicprompts is pinned on its own, installed into the venv when first needed, so adding it
# changes no package the other fixtures were made with.
DYNAMICPROMPTS = "dynamicprompts==0.31.0"


@part
def dynamic_prompt_fixtures():
    """dynamicprompts' combinatorial expansions of Kiln's template cases (dynamic_prompts_fixtures.py)."""
    try:
        import dynamicprompts  # noqa: F401
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", DYNAMICPROMPTS])
    sys.path.insert(0, HERE)
    import dynamic_prompts_fixtures
    dynamic_prompts_fixtures.main()


# compel is pinned on its own too (it adds only pyparsing), installed when first needed.
COMPEL = "compel==2.5.1"


@part
def weighted_prompt_fixtures():
    """compel's parser and CompelForSDXL on the tiny pipelines, for --prompt-weighting (weighted_prompt_fixtures.py)."""
    try:
        import compel  # noqa: F401
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", COMPEL])
    sys.path.insert(0, HERE)
    import weighted_prompt_fixtures
    weighted_prompt_fixtures.main()


@part
def controlnet_fixtures():
    """Tiny ControlNets, their forward and whole ControlNet renders (controlnet_fixtures.py)."""
    sys.path.insert(0, HERE)
    import controlnet_fixtures as c
    c.main(save)


@part
def controlnet_single_file_fixtures():
    """tiny-controlnet as one file in the original layout, and its forward in bfloat16
    (controlnet_single_file_fixtures.py)."""
    sys.path.insert(0, HERE)
    import controlnet_single_file_fixtures as c
    c.main(save)


@part
def hub_cache_check():
    """Checks the Hugging Face cache layout Kiln's tests build (Tests/KilnTestSupport/
    HubCacheFixture.swift: blobs named by ETag, relative symlinks from snapshots, refs without a
    trailing newline) against huggingface_hub: its own writers give the same links and refs,
    try_to_load_from_cache finds every file at each revision, and diffusers loads the pipeline
    from it offline (local_files_only) with the folder's weights. Writes nothing."""
    import hashlib
    import tempfile
    from huggingface_hub import file_download, try_to_load_from_cache
    source = os.path.join(MODELS, "tiny-sdxl-base")
    repo, folder_name = "kiln-test/tiny-sdxl", "models--kiln-test--tiny-sdxl"
    revisions = [("0a" * 20, "main"), ("0b" * 20, "v2")]
    files = sorted(os.path.relpath(os.path.join(d, f), source) for d, _, names in os.walk(source) for f in names)

    def etag(rel, data):
        # LFS files (weights) are named by their SHA-256, others by their git blob SHA-1.
        if rel.endswith(".safetensors"):
            return hashlib.sha256(data).hexdigest()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    with tempfile.TemporaryDirectory() as tmp:
        kiln_cache, hub_cache = os.path.join(tmp, "kiln"), os.path.join(tmp, "hub")
        for cache, by_hub in ((kiln_cache, False), (hub_cache, True)):
            storage = os.path.join(cache, folder_name)
            for commit, ref in revisions:
                for rel in files:
                    with open(os.path.join(source, rel), "rb") as f:
                        data = f.read()
                    blob = os.path.join(storage, "blobs", etag(rel, data))
                    link = os.path.join(storage, "snapshots", commit, rel)
                    os.makedirs(os.path.dirname(blob), exist_ok=True)
                    os.makedirs(os.path.dirname(link), exist_ok=True)
                    if not os.path.exists(blob):
                        with open(blob, "wb") as f:
                            f.write(data)
                    if by_hub:
                        file_download._create_symlink(blob, link, new_blob=False)
                    else:  # as HubCacheFixture.swift writes it
                        os.symlink("../" * (rel.count("/") + 2) + "blobs/" + os.path.basename(blob), link)
                if by_hub:
                    file_download._cache_commit_hash_for_specific_revision(storage, ref, commit)
                else:
                    os.makedirs(os.path.join(storage, "refs"), exist_ok=True)
                    with open(os.path.join(storage, "refs", ref), "w") as f:
                        f.write(commit)
        # The same layout, byte for byte: links and refs.
        for commit, ref in revisions:
            for rel in files:
                a, b = (os.readlink(os.path.join(c, folder_name, "snapshots", commit, rel)) for c in (kiln_cache, hub_cache))
                assert a == b, f"{rel}: Kiln's test cache links {a}, huggingface_hub {b}"
            a, b = (open(os.path.join(c, folder_name, "refs", ref), "rb").read() for c in (kiln_cache, hub_cache))
            assert a == b == commit.encode(), f"refs/{ref}: {a!r} vs {b!r}"
        # huggingface_hub finds each file where Kiln resolves it: refs/main, a branch, a commit.
        for revision, commit in ((None, "0a" * 20), ("v2", "0b" * 20), ("0b" * 20, "0b" * 20)):
            for rel in files:
                found = try_to_load_from_cache(repo, rel, cache_dir=kiln_cache, revision=revision)
                expected = os.path.join(kiln_cache, folder_name, "snapshots", commit, rel)
                assert found == expected, f"{rel}@{revision}: {found} != {expected}"
        # diffusers loads it offline with the folder's weights (plain, and the fp16 variant asked for).
        for variant in (None, "fp16"):
            cached = StableDiffusionXLPipeline.from_pretrained(repo, cache_dir=kiln_cache, local_files_only=True,
                                                               variant=variant, dtype=torch.float32)
            folder = StableDiffusionXLPipeline.from_pretrained(source, variant=variant, dtype=torch.float32)
            for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
                x, y = getattr(cached, name).state_dict(), getattr(folder, name).state_dict()
                assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), f"{name} ({variant}) differs"
        # A snapshot missing a shard does not load offline either (Kiln names the file).
        os.unlink(os.path.join(kiln_cache, folder_name, "snapshots", "0a" * 20, "unet",
                               "diffusion_pytorch_model-00003-of-00004.safetensors"))
        try:
            StableDiffusionXLPipeline.from_pretrained(repo, cache_dir=kiln_cache, local_files_only=True)
        except Exception:
            pass
        else:
            raise AssertionError("diffusers loaded a snapshot missing a UNet shard")
    print("hub cache layout: huggingface_hub and diffusers read Kiln's test cache")


@part
def variant_rule_check():
    """Checks the file choice Kiln's --variant makes (WeightVariantTests, VariantCommandTests)
    against diffusers' from_pretrained(variant=) on tiny-sdxl-base, whose text_encoder alone has
    an fp16 variant (save_pretrained(variant="fp16")): from a folder and, offline, from a Hub
    cache snapshot of it. Writes nothing."""
    import tempfile
    from safetensors.torch import load_file
    source = os.path.join(MODELS, "tiny-sdxl-base")

    def equal(module, path, half=False):
        stored, state = load_file(path), module.state_dict()
        return all(torch.equal(state[k].half() if half else state[k], v) for k, v in stored.items() if k in state)

    def copy(tmp, name, remove=(), add=()):
        folder = os.path.join(tmp, name)
        shutil.copytree(source, folder)
        for rel in remove:
            os.remove(os.path.join(folder, rel))
        for rel in add:
            with open(os.path.join(folder, rel), "w") as f:
                f.write("x")
        return folder

    def fails(folder, variant, error):
        try:
            StableDiffusionXLPipeline.from_pretrained(folder, variant=variant, dtype=torch.float32)
        except error:
            return True
        return False

    with tempfile.TemporaryDirectory() as tmp:
        # Both variants: fp16 loads text_encoder's fp16 file and every other component's plain
        # file (no fp16 file there); None the plain files. The same from a cache snapshot.
        hub = os.path.join(tmp, "hub", "models--kiln-test--tiny-sdxl")
        commit = "0c" * 20
        shutil.copytree(source, os.path.join(hub, "snapshots", commit))
        os.makedirs(os.path.join(hub, "refs"))
        with open(os.path.join(hub, "refs", "main"), "w") as f:
            f.write(commit)
        for pipe in (StableDiffusionXLPipeline.from_pretrained(source, variant="fp16", dtype=torch.float32),
                     StableDiffusionXLPipeline.from_pretrained("kiln-test/tiny-sdxl", cache_dir=os.path.join(tmp, "hub"),
                                                               local_files_only=True, variant="fp16", dtype=torch.float32)):
            assert equal(pipe.text_encoder, os.path.join(source, "text_encoder", "model.fp16.safetensors"), half=True)
            assert not equal(pipe.text_encoder, os.path.join(source, "text_encoder", "model.safetensors"))
            assert equal(pipe.text_encoder_2, os.path.join(source, "text_encoder_2", "model.safetensors"))
            assert equal(pipe.vae, os.path.join(source, "vae", "diffusion_pytorch_model.safetensors"))
        plain = StableDiffusionXLPipeline.from_pretrained(source, dtype=torch.float32)
        assert equal(plain.text_encoder, os.path.join(source, "text_encoder", "model.safetensors"))
        # variant=None on a component with only fp16 weights: OSError (Kiln: --variant none refused).
        assert fails(copy(tmp, "half-only", remove=["text_encoder/model.safetensors"]), None, OSError)
        # variant="fp16" where no component has fp16 files: ValueError (Kiln: --variant fp16 refused).
        assert fails(copy(tmp, "plain-only", remove=["text_encoder/model.fp16.safetensors"]), "fp16", ValueError)
        # Any file named NAME.fp16* makes its component load only fp16 weights (no fallback inside it).
        assert fails(copy(tmp, "stray", add=["vae/notes.fp16.txt"]), "fp16", OSError)
        # A single file beside a shard index: diffusers' UNet loads the shards (here the single
        # file is only the first shard, which would not load), transformers' CLIP the single file
        # (here the index maps nothing).
        both = copy(tmp, "both-layouts")
        shutil.copy(os.path.join(both, "unet", "diffusion_pytorch_model-00001-of-00004.safetensors"),
                    os.path.join(both, "unet", "diffusion_pytorch_model.safetensors"))
        with open(os.path.join(both, "text_encoder", "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": {}}, f)
        pipe = StableDiffusionXLPipeline.from_pretrained(both, dtype=torch.float32)
        assert all(torch.equal(pipe.unet.state_dict()[k], v) for k, v in plain.unet.state_dict().items())
        assert equal(pipe.text_encoder, os.path.join(source, "text_encoder", "model.safetensors"))
    print("variant rule: diffusers picks the files Kiln's --variant fp16 and none pick")


@part
def canny_fixtures():
    """OpenCV's Canny as diffusers' ControlNet docs use it, for `kiln control canny` (canny_fixtures.py)."""
    sys.path.insert(0, HERE)
    import canny_fixtures as canny
    canny.main()


@part
def vae_swap_fixtures():
    """--vae: another AutoencoderKL (folder, original-layout file) and an AutoencoderTiny (vae_swap_fixtures.py)."""
    sys.path.insert(0, HERE)
    import vae_swap_fixtures as swap
    swap.main()


def main():
    if "--only" in sys.argv:
        names = sys.argv[sys.argv.index("--only") + 1:]
        unknown = [n for n in names if n not in PARTS]
        if not names or unknown:
            sys.exit(f"--only takes one or more of: {', '.join(sorted(PARTS))}")
        for name in names:
            PARTS[name]()
        return
    os.makedirs(EXPECTED, exist_ok=True)
    if os.path.isdir(MODELS):
        shutil.rmtree(MODELS)
    os.makedirs(MODELS)
    scheduler_fixtures()
    seed_fixtures()
    base_dir, inpaint_dir, refiner_dir = build_pipelines()
    text_encoder_outputs(base_dir, "base")
    text_encoder_outputs(base_dir, "base", variant="fp16")
    text_encoder_outputs(refiner_dir, "refiner")
    unet_outputs(base_dir, "base", 6)
    unet_outputs(inpaint_dir, "inpaint", 6)
    unet_outputs(refiner_dir, "refiner", 5)
    base = StableDiffusionXLPipeline.from_pretrained(base_dir, dtype=torch.float32)
    refiner = StableDiffusionXLImg2ImgPipeline.from_pretrained(refiner_dir, dtype=torch.float32)
    base_file = os.path.join(MODELS, "tiny-sdxl-base-single-file.safetensors")
    refiner_file = os.path.join(MODELS, "tiny-sdxl-refiner-single-file.fp16.safetensors")
    write_single_file(base, base_file, refiner=False, dtype=torch.float32)
    write_single_file(refiner, refiner_file, refiner=True, dtype=torch.float16)
    check_single_file(base_file, base_dir, StableDiffusionXLPipeline, base, torch.float32)
    loaded = check_single_file(refiner_file, refiner_dir, StableDiffusionXLImg2ImgPipeline, refiner, torch.float16)
    single_file_outputs(loaded)
    vae_outputs(base_dir, "base")
    watermark_fixture()
    png_fixtures()
    render_fixtures(base_dir)
    parameter_counts([base_dir, inpaint_dir, refiner_dir])
    for function in PARTS.values():
        function()
    print("fixtures written to", HERE)


if __name__ == "__main__":
    main()
