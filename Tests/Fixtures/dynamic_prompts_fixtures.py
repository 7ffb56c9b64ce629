"""The expansions dynamicprompts 0.31.0's CombinatorialPromptGenerator gives for Kiln's template
cases, with the wildcard folder Tests/Fixtures/wildcards, written to
Tests/Fixtures/expected/dynamic-prompts.json ({template: [expansion, ...]}, order kept).

Needs only dynamicprompts (no torch): generate_fixtures.py --only dynamic_prompt_fixtures runs it,
or run it alone with any Python that has dynamicprompts==0.31.0 installed.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = "0.31.0"

# Each template is expanded in full (max_prompts=None) and its list compared by Kiln in order.
TEMPLATES = [
    "a {red|blue} barn at {dawn|night}",
    "{ a | b }c",
    "{a|b} {c|d} {e|f}",
    "{a|{b|c}d}",
    "{a|a|b}",
    "{2$$a|b|c}",
    "{2$$a|a|b}",
    "{1-2$$ and $$a|b|c}",
    "{-2$$a|b|c}",
    "{2-$$a|b|c}",
    "{3$$a|b}",
    "{0$$a|b} x",
    "{2$$ | $$a|b}",
    "{2$$a,|b}",
    "{1-2$$a|{b|c}}",
    "{1-3$$ $$a|{b|c}|b}",
    "{0.5::a|b}",
    "{.5:: a|5.::b|-0.25::c}",
    "{+1::a|b}",
    "{|a}",
    "{a||b}",
    "{}",
    "{!a|b}",
    "{a\n|\tb}",
    "  lead {a| b } trail  ",
    "a}b|c",
    "__colors__",
    "__!colors__",
    "__colors*__",
    "__*colors__",
    "__col?rs__",
    "__[cp]*__",
    "__sub/animal__",
    "__animal__",
    "__sub\\weather__",
    "__/sub/weather/__",
    "__places__",
    "{2$$__colors__}",
    "{1-2$$ or $$__colors__}",
    "{2$$__sub/animal__}",
    "{__colors__}",
    "{ __colors__ }",
    "{2$$__colors__|__colors_cool__}",
    "a {tiny|huge} __animal__ in the __sub/weather__, __colors_cool__",
    "{2$$é|ü|日本}",
]


def main():
    from dynamicprompts import __version__
    from dynamicprompts.generators import CombinatorialPromptGenerator
    from dynamicprompts.wildcards import WildcardManager
    assert __version__ == VERSION, f"dynamicprompts {__version__}, not {VERSION}"
    generator = CombinatorialPromptGenerator(WildcardManager(os.path.join(HERE, "wildcards")))
    cases = [{"template": t, "expansions": generator.generate(t, max_prompts=None)} for t in TEMPLATES]
    with open(os.path.join(HERE, "expected", "dynamic-prompts.json"), "w", encoding="utf-8") as f:
        json.dump({"dynamicprompts": VERSION, "wildcards": "wildcards", "cases": cases}, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    sys.exit(main())
