"""Optimizers for painting pixels, and their defaults.

Keras' default learning rates are tuned for network weights of order 1; here the variable is an
image in [0, 255] and the loss is of order 1e8, so string names map to learning rates that move
pixels visibly per step.
"""

from __future__ import annotations

import math
from typing import Any

#: Optimizer names the command line and `get` accept, with their default learning rates.
DEFAULT_LEARNING_RATES = {
    # Adam's step is about `learning_rate` pixels whatever the loss scale.
    "adam": 10.0,
    # RMSprop's first step is learning_rate / sqrt(1 - rho) ~ 3.2x learning_rate pixels.
    "rmsprop": 3.0,
    # Plain gradient descent scales with the loss; this suits the default task's weights.
    "sgd": 1e-6,
}
OPTIMIZERS = tuple(DEFAULT_LEARNING_RATES)


def get(identifier: Any = None, learning_rate: float | None = None):
    """An optimizer for `StyleTransferModel.compile`.

    Args:
        identifier: `None` (Adam with learning rate 10), a name in `OPTIMIZERS`, or a
            `keras.optimizers.Optimizer` instance (returned unchanged).
        learning_rate: overrides the name's default learning rate.

    Raises:
        ValueError: an unknown name or a learning rate that is not a positive finite number.
    """
    import keras  # here, so the names above can be checked before TensorFlow starts

    if isinstance(identifier, keras.optimizers.Optimizer):
        if learning_rate is not None:
            raise ValueError(
                "`learning_rate` applies to optimizer names only; set it on the optimizer "
                f"instance instead. Received: learning_rate={learning_rate!r}"
            )
        return identifier
    name = "adam" if identifier is None else identifier
    check_optimizer_name(name)
    name = name.lower()
    if learning_rate is None:
        learning_rate = DEFAULT_LEARNING_RATES[name]
    check_learning_rate(learning_rate)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate)
    return keras.optimizers.SGD(learning_rate=learning_rate)


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


def check_optimizer_name(name: Any) -> str:
    if not isinstance(name, str) or name.lower() not in DEFAULT_LEARNING_RATES:
        raise ValueError(
            f"`optimizer` must be one of {OPTIMIZERS} or a keras.optimizers.Optimizer. "
            f"Received: optimizer={name!r}"
        )
    return name.lower()
