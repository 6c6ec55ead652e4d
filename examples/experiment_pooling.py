"""Experiment 5 of the report: max against average pooling, one fit each.

    python examples/experiment_pooling.py                 # 128 px, 200 steps, a few minutes on 2 cores
    python examples/experiment_pooling.py --size 48 --steps 20

Writes outputs/pooling/contact_sheet.png and TensorBoard runs under logs/ (one per pooling, with
HParams: `tensorboard --logdir logs`).
"""

import argparse
from pathlib import Path

from keras_nst.experiments import run_experiment

HERE = Path(__file__).resolve().parent
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--size", type=int, default=128)
parser.add_argument("--steps", type=int, default=200)
parser.add_argument("--output-dir", default="outputs/pooling")
parser.add_argument("--logdir", default="logs")
args = parser.parse_args()

# %% The extractor differs, so each pooling is its own model and fit.
result = run_experiment(
    "pooling",
    HERE / "tubingen.jpg",
    HERE / "starry_night.jpg",
    output_dir=args.output_dir,
    log_dir=args.logdir,
    size=args.size,
    steps=args.steps,
    style_weight=3e6,
    weights=None,  # seeded random VGG-19 weights; pass "imagenet" where they can be fetched
)

# %% Gatys et al. prefer average pooling: smoother gradients, fewer artefacts.
for label, loss in zip(result.labels, result.losses):
    print(f"{label:>10}: final loss {loss:.4g}")
print(f"Contact sheet: {result.sheet}")
