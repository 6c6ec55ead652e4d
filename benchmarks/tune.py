"""Compare keras-nst settings side by side: each variant paints each pair with the same steps,
the judge (`judge.py`) scores every picture, and a table and a contact sheet are written.

    python benchmarks/tune.py style_weight --weights vgg16-hed --size 256 --steps 60 \\
        --variant "beta 10: style_weight=10" --variant "beta 30: style_weight=30"

A variant is `label: key=value, key=value` (values as Python literals: numbers, strings,
`None`, dicts), on top of `--preset` and the defaults. `painter=crowsonkb` or
`painter=tutorial` paints with that recipe instead (`recipes.py`; its other keys set the
recipe's fields, such as `feature_scale`). `--seconds S` gives every variant the same wall
time (`recipes.run_for`) instead of the same steps. Results go to
`benchmarks/results/tuning/NAME.md` (appended, with the CPU flags) and `NAME.png`.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recipes  # noqa: E402
from conftest import EXAMPLES, RESULTS  # noqa: E402
from judge import judge  # noqa: E402

from keras_nst.sheets import contact_sheet  # noqa: E402

PAIRS = {
    "tubingen-starry_night": ("tubingen", "starry_night"),
    "astronaut-great_wave": ("astronaut", "great_wave"),
    "chelsea-wheat_field": ("chelsea", "wheat_field"),
}
#: The judge's scores in the table, in order.
SCORES = ("gram", "swd", "content", "noise", "p_gram", "p_swd", "edges")


def load(name: str, size: int | None = None) -> np.ndarray:
    image = Image.open(EXAMPLES / f"{name}.jpg").convert("RGB")
    if size is not None:
        width, height = image.size
        scale = size / max(width, height)
        image = image.resize((round(width * scale), round(height * scale)), Image.LANCZOS)
    return np.asarray(image)


def parse_variant(text: str) -> tuple[str, dict]:
    label, _, body = text.partition(":")
    settings = {}
    for part in filter(None, (p.strip() for p in _split_top_level(body))):
        key, _, value = part.partition("=")
        try:
            settings[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            settings[key.strip()] = value.strip()
    return label.strip(), settings


def _split_top_level(text: str) -> list[str]:
    """Splits at commas outside braces and brackets (a dict value keeps its commas)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char in "{[(" and 1 or 0
        depth -= char in "}])" and 1 or 0
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def make_painter(settings: dict, preset: str | None, weights):
    """The variant's painter: keras-nst with `settings` on top of `preset`, or a recipe."""
    kind = settings.pop("painter", "keras-nst")
    if kind == "crowsonkb":
        return recipes.Crowsonkb(weights=weights, **settings)
    if kind == "tutorial":
        return recipes.Tutorial(weights=weights, **settings)
    painter = recipes.KerasNst.from_preset(preset) if preset else recipes.KerasNst()
    painter.settings.update(settings)
    painter.weights = weights
    return painter


def cpu_flags() -> str:
    try:
        flags = next(line for line in open("/proc/cpuinfo") if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown"
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
    return " ".join(flag for flag in wanted if flag in flags) or "none of avx2/avx512"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("name")
    parser.add_argument("--variant", action="append", required=True)
    parser.add_argument("--weights", default="vgg16-hed", help="vgg16-hed, random, or a file")
    parser.add_argument("--preset", default=None)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60, help="steps at every scale")
    parser.add_argument(
        "--seconds", type=float, default=None, help="equal wall time instead of steps"
    )
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    args = parser.parse_args(argv)
    weights = None if args.weights == "random" else args.weights
    variants = [parse_variant(text) for text in args.variant]
    out = RESULTS / "tuning"
    out.mkdir(parents=True, exist_ok=True)
    rows, grid, captions = [], [], []
    for pair in args.pairs:
        photo_name, style_name = PAIRS[pair]
        photo, style, style_at_size = (
            load(photo_name, args.size),
            load(style_name),
            load(style_name, args.size),
        )
        pictures, texts = [photo, style_at_size], ["", ""]
        for label, settings in variants:
            painter = make_painter(dict(settings), args.preset, weights)
            if args.seconds:
                image, info = recipes.run_for(painter, photo, style, args.seconds)
                label_steps, seconds = "/".join(map(str, info["steps"])), info["seconds"]
                timing = f" ms/step {[round(t) for t in info['ms_per_step']]}"
            else:
                start = time.perf_counter()
                image = painter(photo, style, [args.steps] * len(painter.stages(args.size)))
                label_steps, seconds, timing = str(args.steps), time.perf_counter() - start, ""
            scores = judge(image, photo, style_at_size)
            rows.append((pair, label, label_steps, seconds, scores))
            pictures.append(image)
            texts.append(
                f"{seconds:.0f}s G{scores['gram']:.3f} S{scores['swd']:.2f} E{scores.get('edges', float('nan')):.2f} N{scores['noise']:.1f}"
            )
            Image.fromarray(image).save(
                out / f"{args.name}_{pair}_{label.replace(' ', '_').replace('/', '-')}.png"
            )
            print(
                pair,
                label,
                label_steps,
                f"{seconds:.0f} s{timing}",
                {k: round(v, 4) for k, v in scores.items()},
                flush=True,
            )
        grid.append(pictures)
        captions.append(texts)
    budget = f"{args.seconds:.0f} s each" if args.seconds else f"{args.steps} steps per scale"
    sheet = contact_sheet(
        grid,
        row_labels=args.pairs,
        column_labels=["photo", "style", *[label for label, _ in variants]],
        captions=captions,
        title=f"{args.name}: {args.size} px, {budget}, weights {args.weights}"
        f"{', preset ' + args.preset if args.preset else ''}; G Gram, S SWD, E edges, N noise",
    )
    sheet.save(out / f"{args.name}.png")
    with open(out / f"{args.name}.md", "a") as table:
        table.write(
            f"\n## {args.name}: {args.size} px, {budget}, weights {args.weights}"
            f"{', preset ' + args.preset if args.preset else ''} (CPU: {cpu_flags()})\n\n"
        )
        for label, settings in variants:
            table.write(f"- {label}: `{settings}`\n")
        table.write(
            "\n| pair | variant | steps | s | "
            + " | ".join(SCORES)
            + " |\n|---|---|---|---|"
            + "---|" * len(SCORES)
            + "\n"
        )
        for pair, label, steps, seconds, scores in rows:
            values = " | ".join(f"{scores[k]:.4f}" if k in scores else "" for k in SCORES)
            table.write(f"| {pair} | {label} | {steps} | {seconds:.0f} | {values} |\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
