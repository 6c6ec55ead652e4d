"""Experiment 3 of the report: one style layer at a time, five images in one fit.

    python examples/experiment_style_layer.py                 # 128 px, 200 steps, a few minutes on 2 cores
    python examples/experiment_style_layer.py --size 48 --steps 20

Writes outputs/style_layer/contact_sheet.png and TensorBoard runs under logs/ (one per layer, with
HParams: `tensorboard --logdir logs`).
"""

import argparse
from pathlib import Path

from keras_nst.experiments import run_experiment

HERE = Path(__file__).resolve().parent
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--size", type=int, default=128)
parser.add_argument("--steps", type=int, default=200)
parser.add_argument("--output-dir", default="outputs/style_layer")
parser.add_argument("--logdir", default="logs")
args = parser.parse_args()

# %% One-hot style layer weights (conv1_1 ... conv5_1): each layer is a variant of one fit.
result = run_experiment(
    "style_layer",
    HERE / "tubingen.jpg",
    HERE / "starry_night.jpg",
    output_dir=args.output_dir,
    log_dir=args.logdir,
    size=args.size,
    steps=args.steps,
    style_weight=3e6,
    weights=None,  # seeded random VGG-19 weights; pass "imagenet" where they can be fetched
)

# %% Deeper layers match larger structures of the painting.
for label, loss in zip(result.labels, result.losses):
    print(f"{label:>10}: final loss {loss:.4g}")
print(f"Contact sheet: {result.sheet}")
