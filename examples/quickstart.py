"""Paint the Tübingen photo in the style of The Starry Night with the Python API.

python examples/quickstart.py            # 256 px, 300 steps, a minute or two on 2 CPU cores
python examples/quickstart.py --size 64 --steps 5
"""

import argparse
from pathlib import Path

import keras_nst

HERE = Path(__file__).resolve().parent

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--size", type=int, default=256)
parser.add_argument("--steps", type=int, default=100, help="steps at each scale")
parser.add_argument("--weights", default=None, help="'imagenet', a weight file, or omit for random")
parser.add_argument("--output", default="quickstart.png")
args = parser.parse_args()

# %% What to paint: Gatys et al.'s layers; the default weights are calibrated per layer, so
# they mean the same for ImageNet and for random VGG-19 weights.
task = keras_nst.StyleTask(
    content=HERE / "tubingen.jpg",
    style=HERE / "starry_night.jpg",
    size=args.size,
    init="content",
)

# %% Paint: coarse to fine from 128 px, a frozen VGG-19 with average pooling, L-BFGS on the
# image at the smaller scales and Adam at the final one, its running average as the result,
# checkpoints beside the output, Ctrl-C stops cleanly after a step. `painting.model` is the
# Keras model that painted.
painting = keras_nst.stylize(
    task,
    output=args.output,
    steps=args.steps,
    weights=args.weights,
    checkpoint_dir=Path(args.output).with_suffix(".checkpoint"),
)
print({name: f"{values[-1]:.4g}" for name, values in painting.history.history.items()})
print(f"Wrote {painting.output} in {painting.seconds:.0f} s")
