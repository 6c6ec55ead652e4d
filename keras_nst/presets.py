"""Named sets of settings, measured to paint well: `keras-nst stylize --preset w2`, or
`keras_nst.presets.get("w2")` from Python.

A preset is a dictionary of settings (`keras_nst.settings`), as a `--task` file holds them.
On the command line, options and a `--task` file win over the preset, which wins over the
defaults. In Python, split it into the task's settings and `stylize`'s::

    task_settings, settings = keras_nst.settings.split_task_settings(presets.get("w2"))
    task = keras_nst.StyleTask("photo.jpg", "painting.jpg", size=512, **task_settings)
    keras_nst.stylize(task, output="painted.png", **settings)

TensorFlow-free, so the command line can read a preset before TensorFlow starts.
"""

from __future__ import annotations

import copy

#: The most styled, cleanest picture per second (docs/pretrained.md): the mean-and-covariance
#: (Wasserstein-2) style loss with crowsonkb's layer weights, max pooling, a light total
#: variation term, L-BFGS at the smaller scales, then Adam with a small learning rate at the
#: final one. Measured on the pretrained VGG-16 features against crowsonkb's recipe at equal
#: time. Not the paper's arithmetic, which the defaults keep closer to (Gram loss, average
#: pooling).
W2 = {
    "style_loss": "mean_cov",
    "style_weight": 100.0,
    "total_variation_weight": 1.0,
    "pooling": "max",
    # L-BFGS styles fastest while the image is small (10 pairs of image-sized vectors: for
    # the largest prints, scale_optimizer=None needs less memory); at full size Adam takes
    # over, with its state fresh and a learning rate small enough to add detail without
    # speckle.
    "scale_optimizer": "lbfgs",
    "optimizer": "adam",
    "learning_rate": 1.0,
    # crowsonkb's 256 : 64 : 16 : 4 : 1, summing to 1. On pretrained features these styled
    # more at the same time than 16 : 8 : 4 : 2 : 1 (tuned on random weights), which kept
    # more of the photo's colours.
    "style_layers": {
        "block1_conv1": 0.7507,
        "block2_conv1": 0.1877,
        "block3_conv1": 0.0469,
        "block4_conv1": 0.0117,
        "block5_conv1": 0.0029,
    },
}

#: The most styled picture at equal time (docs/pretrained.md): the `w2` preset with thirty
#: times its style weight and a second content layer, conv2_2, whose fine features hold the
#: photo's edges while the style takes over its textures. At 60 s and 256 px on pretrained
#: features, more styled than crowsonkb's recipe on all three benchmark pairs by both judges'
#: distances, less noisy, within 0.02 of its content distance.
W2_STRONG = {
    **W2,
    "style_weight": 3000.0,
    "content_layers": {"block4_conv2": 1.0, "block2_conv2": 1.0},
}

#: The paper's arithmetic (Gatys, Ecker and Bethge 2015): its loss normalisation with
#: α = 10 and β = 1e4 (α/β = 1e-3), one scale, the last iterate (no running average), and
#: VGG-19's zero padding. The report's experiments (`keras-nst sweep`) run on it.
PAPER_ARITHMETIC = {
    "calibration": "gatys2015",
    "content_weight": 10.0,
    "style_weight": 1e4,
    "min_size": 0,
    "average": 0.0,
    "padding": "zeros",
}

#: The paper as published: its arithmetic, average pooling, Gatys' layers (the defaults),
#: L-BFGS from white noise. With other features than ImageNet's VGG-19 its style weight
#: means something else (see `calibration`).
GATYS2015 = {**PAPER_ARITHMETIC, "optimizer": "lbfgs", "init": "noise", "pooling": "avg"}

PRESETS: dict[str, dict] = {"w2": W2, "w2-strong": W2_STRONG, "gatys2015": GATYS2015}

#: One line per preset, for `--help` and the documentation.
DESCRIPTIONS: dict[str, str] = {
    "w2": "the most styled, cleanest picture per second (W2 style loss, max pooling, "
    "L-BFGS then Adam)",
    "w2-strong": "w2 at thirty times the style weight with a second content layer (conv2_2): "
    "the most styled at equal time, ahead of crowsonkb's recipe",
    "gatys2015": "the paper's settings (its loss arithmetic, one scale, L-BFGS from noise)",
}


def get(name: str, argument: str = "preset") -> dict:
    """A copy of the preset `name`'s settings.

    Raises:
        ValueError: no preset of that name.
    """
    if not isinstance(name, str) or name.lower() not in PRESETS:
        raise ValueError(
            f"`{argument}` must be one of {tuple(PRESETS)}. Received: {argument}={name!r}"
        )
    return copy.deepcopy(PRESETS[name.lower()])
