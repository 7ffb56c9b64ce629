"""compel 2.5.1's prompt parser and CompelForSDXL on the committed tiny pipelines, for Kiln's
--prompt-weighting (Tests/PipelinesTests/WeightedPromptParityTests.swift):

  expected/weighted-prompts.json          the cases, and compel's parse of each parser case
                                          (fragments as [text, weight], or the error it raises)
  expected/weighted-prompts.safetensors   per case: embeds, pooled, negative_embeds, negative_pooled;
                                          and one render given the long case's embeddings; the
                                          BREAK cases' compel chunks; diffusers' encode_prompt
                                          for --prompt-weighting none (and the warnings it logs)

Runs inside generate_fixtures.py's venv (torch, diffusers, transformers) with compel installed:
generate_fixtures.py --only weighted_prompt_fixtures.
"""
import json
import os

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = "2.5.1"

# About 100 tokens on the tiny vocabulary (words it lacks split into letters): a sentence ends
# inside the first 75 tokens, so compel's SENTENCES split applies; `(great time)1.4` falls in the
# second chunk and `(dusty road)0.6` is down-weighted.
LONG = ("a red barn with love and art in the day, the new man is here today. "
        "the red sun was great, and it is more than just art for you and me, "
        "the old mill by the river is so quiet at dawn, we are out on the road with all "
        "our love, this is the (great time)1.4 of the day, and the (dusty road)0.6 is long, "
        "what a day to be here with the ones we love")

# name, syntax, prompt, prompt_2, negative_prompt, negative_prompt_2, the compel prompts that
# give the same fragments (for a1111 cases: prompt, prompt_2, negative, negative_2)
CASES = [
    ("short", "compel", "a red barn++ at (dawn light)1.3, the love of art-", None, "blurry, (ugly)0.5", None, None),
    ("long", "compel", LONG, None, "(ugly)- and blurry", None, None),
    ("prompt2", "compel", "a (red barn)1.2 by the river", "an oil painting+, (soft light)0.7",
     "fog", "(dark)1.5 noise", None),
    ("down-only", "compel", "(the man)0 in the (red)0.25 day", None, None, None, None),
    ("blend", "compel", '("' + LONG + '", "a cat++ at night").blend(0.7, 0.3)', None, "blurry", None, None),
    ("blend-raw", "compel", '("a red barn", "(the sea)1.2")-.blend(1, 2, no_normalize)', None, None, None, None),
    ("and", "compel", '("a red barn", "(the sea)1.2 at night").and()', "an oil painting", "(ugly)0.5", None, None),
    ("a1111", "a1111", "masterpiece, (red hair:1.3), [blurry], ((art)) and \\(this\\)", "(the day:0.8) [[ice]]",
     "[ugly], (bad", None,
     ("masterpiece, (red hair)1.3, (blurry)0.9090909090909091, (art)1.2100000000000002 and \\(this\\)",
      "(the day)0.8 (ice)0.8264462809917354", "(ugly)0.9090909090909091, (bad)1.1", None)),
]

# A1111's BREAK: each segment is compel-encoded alone and the chunks follow each other.
BREAK_PROMPT = "a (red:1.2) barn BREAK the [night] sky"
BREAK_SEGMENTS = ["a (red)1.2 barn", "the (night)0.9090909090909091 sky"]

# The long prompt in A1111's syntax: the same fragments as LONG in compel's, so its equivalent is LONG.
A1111_LONG = LONG.replace("(great time)1.4", "(great time:1.4)").replace("(dusty road)0.6", "(dusty road:0.6)")
CASES.append(("a1111-long", "a1111", A1111_LONG, "an oil painting of a (red barn:1.2), [[fog]] at dawn",
              "[ugly] and (blurry:1.3)", None,
              (LONG, "an oil painting of a (red barn)1.2, (fog)0.8264462809917354 at dawn",
               "(ugly)0.9090909090909091 and (blurry)1.3", None)))

# More BREAK cases, pinned against A1111's tokenize_line (modules/sd_hijack_clip.py): BREAK closes the
# chunk being filled even when it is empty (so `BREAK BREAK` leaves an empty chunk between), and at the
# end only a non-empty chunk (or none at all) is closed, so a trailing BREAK adds nothing. compel has no
# BREAK: the expected embeddings are each segment's CompelForSDXL chunks one after the other, the empty
# segment as compel's "" (one chunk); a segment past 75 tokens takes compel's chunks (split at a sentence
# end), where A1111 would cut at 75 tokens or its last comma. name, prompt, compel segments.
BREAK_CASES = [
    ("break-long", A1111_LONG + " BREAK BREAK a (cat:1.2) at [night] BREAK",
     [LONG, "", "a (cat)1.2 at (night)0.9090909090909091"]),
    ("break-double-end", "a red barn BREAK BREAK", ["a red barn", ""]),
]

# --prompt-weighting none is diffusers' encode_prompt: the text cut at 77 tokens, with the warning it logs
# once per tokenizer that cuts. name, prompt, prompt_2, negative_prompt, negative_prompt_2, embeddings kept.
PLAIN_LONG = LONG.replace("(great time)1.4", "great time").replace("(dusty road)0.6", "dusty road")
NONE_CASES = [
    ("none-long", PLAIN_LONG + ", it's the day we'll keep", None, "blurry, ugly", None, True),
    ("none-prompt2", "a red barn by the river", "an oil painting of " + PLAIN_LONG, "fog", "dark noise", True),
    ("none-quotes", PLAIN_LONG + ', she said "it\'s a \\ day" \\', None, None, None, False),
]

# Parser cases: compel's flattened fragments, or the error it raises.
PARSER_CASES = [
    "a cat", "", "   ", "a cat+", "a cat++", "a cat+++", "a cat-", "a cat--", "cat+ dog-",
    "(a cat)1.3", "(a cat)-", "(a cat)+", "(a cat)++", "(a cat)0.5", "(a cat)2", "(a cat)-1", "(a cat).5",
    "(a (cat)1.5)0.5", "((a cat)) dog", "(a cat) dog", "a (cat)", "a-b", "a+b", "a - b", "cat- - dog",
    "\\(a cat\\)", "a \\+ b", "a\\-", "\\\"quoted\\\"", "\"a cat\"1.2", "\"a, cat.\"-", "(a, b. c)1.1",
    "a,b", "a,  b", "a.b", "hello, world.", "(a cat) 1.3", "(a cat)1.3.swap(dog)", "(a cat)1.3 dog++",
    "a (b", "a b)", "a (b)c", "(a)(b)", "a cat.blend(0.5)", "(\"a cat\", \"a dog\").blend(1, 1)",
    "(\"a cat\", \"a dog\").and()", "(\"a cat\", \"a dog\").and(1, 0.5)", "a cat.and()", "withLora(x, 0.5) a cat",
    "a cat.swap(dog)", "(a cat).attend(1.2)", "cat.attend(0.8)", "a 1.5", "a -1", "red-haired girl",
    "a cat 2+2", "(red)++ barn", "(red)1e2", "(red)-0.5", "a\tb", "a   b", "(a cat)1.", "a ++", "++",
    "-", "(", ")", "a ()", "()1.2", "a +b", "50% off", "a=b", "(a=b)1.2", "ünïcödé++", "(日本)1.2",
    "(\"a red barn\", \"the sea+\").blend(0.7, 0.3)", "(\"a\", \"b\").blend()", "(\"a\", \"b\").blend(1, 2, no_normalize)",
    "(\"a\", \"b\").and() trailing", "(a, \"b c\", (d e)).blend(1,1,1)", "(\"a\", \"\").blend(1,1)", "(\"a\", \"b\").blend(1)",
    "(\"a\", \"b\").blend(x=1, 2)", "(\"a\", ()).and()", "(\"a\", \"b\").add()", "( \"x+ y\", z- ).blend(2, 1)",
    "(\"a\", \"b\").blend(1, 1) tail", "(\"a (b)1.5, c.\", d).blend(1, 1)", "(a, b).blend(1, 1, no_normalize, 2)",
]


def random_prompts(count=600, seed=18):
    """Seeded random prompts over compel's syntax characters, words and numbers."""
    import random
    rng = random.Random(seed)
    pieces = ["a", "cat", "red", "barn", " ", " ", "  ", "(", ")", "(", ")", "+", "++", "-", "--", "1.3", "0.5", "2", ".5",
              "1.", ",", ".", '"', "\\(", "\\)", '\\"', "\\", "=", ".attend(", ".blend(", ".and(", "no_normalize", "\t",
              "ü", "x-y", "withLora(", "BREAK", ":", "[", "]"]
    return [''.join(rng.choice(pieces) for _ in range(rng.randint(1, 20))) for _ in range(count)]


def fragments(prompt):
    from compel import Compel
    from compel.prompt_parser import Blend, Conjunction, FlattenedPrompt
    try:
        conjunction = Compel.parse_prompt_string(prompt)
    except Exception as e:  # what compel raises for it
        return {"error": type(e).__name__}
    def flat(p):
        return [[f.text, f.weight] for f in p.children]
    if not conjunction.prompts:
        return {"error": "no prompt"}  # compel fails building it (IndexError)
    if conjunction.lora_weights:
        return {"unsupported": "lora"}
    if any(type(p) is FlattenedPrompt and p.wants_cross_attention_control for p in conjunction.prompts):
        return {"unsupported": "swap"}
    if len(conjunction.prompts) == 1 and type(conjunction.prompts[0]) is Blend:
        b = conjunction.prompts[0]
        return {"blend": {"prompts": [flat(p) for p in b.prompts], "weights": b.weights, "normalize": b.normalize_weights}}
    if len(conjunction.prompts) > 1 or conjunction.weights != [1.0]:
        if any(w != 1 for w in conjunction.weights):
            return {"unsupported": "weighted and"}  # CompelForSDXL fails on it
        return {"and": [flat(p) for p in conjunction.prompts]}
    return {"fragments": flat(conjunction.prompts[0]) if conjunction.prompts else []}


@torch.no_grad()
def main():
    import compel
    from compel import Compel, CompelForSDXL, ReturnedEmbeddingsType
    from diffusers import StableDiffusionXLImg2ImgPipeline, StableDiffusionXLPipeline
    from importlib.metadata import version
    assert version("compel") == VERSION, f"compel {version('compel')}, not {VERSION}"
    models = os.path.join(HERE, "models")
    expected = os.path.join(HERE, "expected")
    pipe = StableDiffusionXLPipeline.from_pretrained(os.path.join(models, "tiny-sdxl-base"), dtype=torch.float32,
                                                     add_watermarker=False)
    pipe.set_progress_bar_config(disable=True)
    sdxl = CompelForSDXL(pipe)
    tensors, cases = {}, []
    for name, syntax, prompt, prompt_2, negative, negative_2, equivalent in CASES:
        c = equivalent or (prompt, prompt_2, negative, negative_2)
        # Kiln encodes "" when a model does not force zeros and there is no negative prompt.
        out = sdxl(main_prompt=c[0], style_prompt=c[1], negative_prompt=c[2] if c[2] is not None else "",
                   negative_style_prompt=c[3])
        for key in ("embeds", "pooled_embeds", "negative_embeds", "negative_pooled_embeds"):
            tensors[f"{name}.{key}"] = getattr(out, key).contiguous()
        if syntax == "a1111":
            # compel pools the raw prompt text; for A1111 prompts that is the A1111 text.
            provider = sdxl.compel_2.conditioning_provider
            tensors[f"{name}.pooled_embeds"] = provider.get_pooled_embeddings([prompt_2 or prompt]).contiguous()
            tensors[f"{name}.negative_pooled_embeds"] = provider.get_pooled_embeddings([negative_2 or negative]).contiguous()
        tokens = [len(pipe.tokenizer(t).input_ids) - 2 for t in (prompt, prompt_2) if t]
        cases.append({"name": name, "syntax": syntax, "prompt": prompt, "prompt_2": prompt_2, "negative_prompt": negative,
                      "negative_prompt_2": negative_2, "tokens": tokens, "length": out.embeds.shape[1]})
    # BREAK: the segments' embeddings, chunk after chunk, and the pooled raw text.
    chunks = [sdxl(main_prompt=s).embeds for s in BREAK_SEGMENTS]
    tensors["break.embeds"] = torch.cat(chunks, dim=1).contiguous()
    tensors["break.pooled_embeds"] = sdxl.compel_2.conditioning_provider.get_pooled_embeddings([BREAK_PROMPT]).contiguous()
    # Where compel puts the long prompts' weighted tokens (indices over the 77-token chunks).
    for case in cases:
        if case["name"] in ("long", "a1111-long"):
            conjunction = Compel.parse_prompt_string(LONG)
            texts = [f.text for f in conjunction.prompts[0].children]
            weights = [f.weight for f in conjunction.prompts[0].children]
            _, per_token, _ = sdxl.compel_1.conditioning_provider.get_token_ids_and_expand_weights(texts, weights, "cpu")
            per_token = per_token.tolist()
            case["weight_positions"] = [[w, [i for i, x in enumerate(per_token) if x == w]] for w in sorted(set(per_token)) if w != 1]
    breaks = []
    for name, prompt, segments in BREAK_CASES:
        chunks = [sdxl(main_prompt=s).embeds for s in segments]
        tensors[f"{name}.embeds"] = torch.cat(chunks, dim=1).contiguous()
        tensors[f"{name}.pooled_embeds"] = sdxl.compel_2.conditioning_provider.get_pooled_embeddings([prompt]).contiguous()
        breaks.append({"name": name, "prompt": prompt, "segments": segments, "chunks": sum(c.shape[1] for c in chunks) // 77})
    # diffusers' own encode_prompt for --prompt-weighting none, and the warnings it logs.
    import logging
    records = []
    class Capture(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())
    sdxl_logger = logging.getLogger(StableDiffusionXLPipeline.__module__)
    sdxl_logger.addHandler(Capture())
    none_cases = []
    for name, prompt, prompt_2, negative, negative_2, keep in NONE_CASES:
        records.clear()
        out = pipe.encode_prompt(prompt, prompt_2=prompt_2, device="cpu", num_images_per_prompt=1,
                                 do_classifier_free_guidance=True, negative_prompt=negative, negative_prompt_2=negative_2)
        if keep:
            for key, t in zip(("embeds", "negative_embeds", "pooled_embeds", "negative_pooled_embeds"), out):
                tensors[f"{name}.{key}"] = t.contiguous()
        none_cases.append({"name": name, "prompt": prompt, "prompt_2": prompt_2, "negative_prompt": negative,
                           "negative_prompt_2": negative_2, "embeddings": keep, "warnings": list(records)})
    # A whole render given the long case's embeddings.
    long_case = next(c for c in CASES if c[0] == "long")
    out = sdxl(main_prompt=long_case[2], negative_prompt=long_case[4])
    render = {"steps": 3, "width": 64, "height": 64, "seed": 23, "guidance": 5.0}
    image = pipe(prompt_embeds=out.embeds, pooled_prompt_embeds=out.pooled_embeds, negative_prompt_embeds=out.negative_embeds,
                 negative_pooled_prompt_embeds=out.negative_pooled_embeds, num_inference_steps=render["steps"],
                 width=render["width"], height=render["height"], guidance_scale=render["guidance"],
                 generator=torch.Generator("cpu").manual_seed(render["seed"]), output_type="np").images
    tensors["render.pixels"] = torch.from_numpy((image * 255).round().astype("uint8")).contiguous()
    # The refiner has text_encoder_2 only: one Compel on it, as compel's docs set it up.
    refiner = StableDiffusionXLImg2ImgPipeline.from_pretrained(os.path.join(models, "tiny-sdxl-refiner"), dtype=torch.float32)
    one = Compel(tokenizer=refiner.tokenizer_2, text_encoder=refiner.text_encoder_2,
                 returned_embeddings_type=ReturnedEmbeddingsType.PENULTIMATE_HIDDEN_STATES_NON_NORMALIZED,
                 requires_pooled=True, truncate_long_prompts=False)
    embeds, pooled = one([LONG, "(ugly)- and blurry"])
    tensors["refiner.embeds"], tensors["refiner.negative_embeds"] = embeds[0:1].contiguous(), embeds[1:2].contiguous()
    tensors["refiner.pooled_embeds"], tensors["refiner.negative_pooled_embeds"] = pooled[0:1].contiguous(), pooled[1:2].contiguous()
    save_file(tensors, os.path.join(expected, "weighted-prompts.safetensors"))
    parser = [{"prompt": p, **fragments(p)} for p in PARSER_CASES + random_prompts()]
    with open(os.path.join(expected, "weighted-prompts.json"), "w", encoding="utf-8") as f:
        json.dump({"compel": compel.__name__ and VERSION, "cases": cases, "render": render,
                   "break": {"prompt": BREAK_PROMPT, "segments": BREAK_SEGMENTS}, "breaks": breaks, "none": none_cases, "refiner": {"prompt": LONG, "negative_prompt": "(ugly)- and blurry"},
                   "parser": parser}, f, indent=1, ensure_ascii=False)
        f.write("\n")
