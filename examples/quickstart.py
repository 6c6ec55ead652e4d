"""Paint the Tübingen photo in the style of The Starry Night with the Python API.

    python examples/quickstart.py            # 256 px, 300 steps, about 2 minutes on 2 CPU cores
    python examples/quickstart.py --size 64 --steps 5
"""

import argparse
from pathlib import Path

import keras

import keras_nst

HERE = Path(__file__).resolve().parent

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--size", type=int, default=256)
parser.add_argument("--steps", type=int, default=300)
parser.add_argument("--weights", default=None, help="'imagenet', a weight file, or omit for random")
parser.add_argument("--output", default="quickstart.png")
args = parser.parse_args()

# %% What to paint: Gatys et al.'s layers and weights, except a stronger style weight, which
# random VGG-19 weights need (with ImageNet weights, leave style_weight at its default).
task = keras_nst.StyleTask(
    content=HERE / "tubingen.jpg",
    style=HERE / "starry_night.jpg",
    size=args.size,
    style_weight=1e4 if args.weights else 3e6,
    init="content",
)

# %% The model: a frozen VGG-19 with average pooling; the image is the only trainable variable.
model = keras_nst.StyleTransferModel(task, weights=args.weights, pooling="avg")
model.compile(optimizer=keras.optimizers.Adam(learning_rate=10.0))

# %% Paint with Keras' own fit loop; the history holds the losses at the end of each epoch.
history = model.fit(task, epochs=3, steps_per_epoch=max(1, args.steps // 3))
print({name: f"{values[-1]:.4g}" for name, values in history.history.items()})

# %% Save the painting.
keras_nst.save_image(args.output, model.images()[0])
print(f"Wrote {args.output}")
