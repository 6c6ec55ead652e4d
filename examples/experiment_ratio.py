"""Experiment 1 of the report: the content/style weight ratio, seven images in one fit.

    python examples/experiment_ratio.py                 # 128 px, 200 steps, a few minutes on 2 cores
    python examples/experiment_ratio.py --size 48 --steps 20

Writes outputs/ratio/contact_sheet.png and TensorBoard runs under logs/ (one per ratio, with
HParams: `tensorboard --logdir logs`).
"""

import argparse
from pathlib import Path

from keras_nst.experiments import run_experiment

HERE = Path(__file__).resolve().parent
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--size", type=int, default=128)
parser.add_argument("--steps", type=int, default=200)
parser.add_argument("--output-dir", default="outputs/ratio")
parser.add_argument("--logdir", default="logs")
args = parser.parse_args()

# %% Style weight 10 ... 1e7 at content weight 10: every ratio is a variant of one fit.
result = run_experiment(
    "ratio",
    HERE / "tubingen.jpg",
    HERE / "starry_night.jpg",
    output_dir=args.output_dir,
    log_dir=args.logdir,
    size=args.size,
    steps=args.steps,
    weights=None,  # seeded random VGG-19 weights; pass "imagenet" where they can be fetched
)

# %% The larger beta, the more the painting takes over.
for label, loss in zip(result.labels, result.losses):
    print(f"{label:>10}: final loss {loss:.4g}")
print(f"Contact sheet: {result.sheet}")
