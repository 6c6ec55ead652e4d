"""What users choose by name (pooling, optimizers, precision) and the checks for them.

TensorFlow-free, so tasks and the command line can check names before TensorFlow starts.
VGG-19's layer names live in `keras_nst.vgg19` (re-exported here).
"""

from __future__ import annotations

import math
from typing import Any

from keras_nst.vgg19 import (  # noqa: F401  (re-exported)
    VGG19_LAYERS,
    check_layer_name,
    layer_index,
    num_pools_before,
)

#: Pooling choices of the extractor: Gatys et al.'s average pooling, or VGG-19's own max pooling.
POOLING = ("avg", "max")


def check_pooling(pooling: Any, argument: str = "pooling") -> str:
    if pooling not in POOLING:
        raise ValueError(f"`{argument}` must be one of {POOLING}. Received: {argument}={pooling!r}")
    return pooling


#: Optimizer names `compile` and the command line accept, with their default learning rates.
#: Keras' defaults suit network weights of order 1; here the variable is an image in [0, 255]
#: and the loss is of order 1e8, so each name gets a rate that moves pixels visibly per step.
DEFAULT_LEARNING_RATES = {
    # Adam's step is about `learning_rate` pixels whatever the loss scale.
    "adam": 10.0,
    # RMSprop's first step is learning_rate / sqrt(1 - rho), about 3.2x learning_rate pixels;
    # without momentum it keeps jittering by about learning_rate, so it needs a smaller one
    # (at 256 px, 200 steps: 3.4e9 with 1.0 against 1.3e10 with 3.0).
    "rmsprop": 1.0,
    # Plain gradient descent scales with the loss; this suits the default task's weights.
    "sgd": 1e-6,
    # L-BFGS takes the full quasi-Newton step (keras_nst.optimizers.LBFGS).
    "lbfgs": 1.0,
}
OPTIMIZERS = tuple(DEFAULT_LEARNING_RATES)
#: The default learning rate of an optimizer that takes over a painting from another one
#: (`scale_optimizer`: L-BFGS paints the smaller scales, `optimizer` the final one): it
#: refines a picture that is painted already, so Adam moves pixels by 3 per step, not 10
#: (measured at equal time: as styled, less speckle; docs/history.md, "Changing course at
#: the last scale"). Names not listed keep their `DEFAULT_LEARNING_RATES`.
TAKEOVER_LEARNING_RATES = {"adam": 3.0}


def check_optimizer_name(
    name: Any, argument: str = "optimizer", *, otherwise: str | None = None
) -> str:
    """`name` in lower case, or a ValueError naming `argument` and the valid names (and
    `otherwise`, what else the argument takes; by default a Keras optimizer for `optimizer`)."""
    if not isinstance(name, str) or name.lower() not in DEFAULT_LEARNING_RATES:
        if otherwise is None:
            otherwise = "a keras.optimizers.Optimizer" if argument == "optimizer" else ""
        raise ValueError(
            f"`{argument}` must be one of {OPTIMIZERS}{' or ' + otherwise if otherwise else ''}. "
            f"Received: {argument}={name!r}"
        )
    return name.lower()


def check_learning_rate(learning_rate: Any) -> float:
    if (
        isinstance(learning_rate, bool)
        or not isinstance(learning_rate, (int, float))
        or not math.isfinite(learning_rate)
        or learning_rate <= 0
    ):
        raise ValueError(
            "`learning_rate` must be a positive finite number. "
            f"Received: learning_rate={learning_rate!r}"
        )
    return float(learning_rate)


#: Arithmetic of the VGG-19 forward and backward pass. Losses and Grams are always float32.
PRECISIONS = ("auto", "float32", "mixed_bfloat16")


def check_precision(precision: Any) -> str:
    if precision not in PRECISIONS:
        raise ValueError(
            f"`precision` must be one of {PRECISIONS}. Received: precision={precision!r}"
        )
    return precision


#: The file a checkpoint directory holds (checked by the command line before TensorFlow starts).
CHECKPOINT_FILE = "checkpoint.npz"
