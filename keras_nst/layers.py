"""Names of VGG-19's layers, as `keras.applications.VGG19` spells them, and their validation.

TensorFlow-free, so tasks and the command line can check layer names before TensorFlow starts.
"""

from __future__ import annotations

import difflib
from typing import Any

_CONVS_PER_BLOCK = (2, 2, 4, 4, 4)

#: Pooling choices of the extractor: Gatys et al.'s average pooling, or VGG-19's own max pooling.
POOLING = ("avg", "max")

#: Every layer of VGG-19's convolutional stack in order. Keras' `blockB_convC` layers include
#: their ReLU, so `block4_conv2` is Gatys et al.'s `relu4_2`.
VGG19_LAYERS: tuple[str, ...] = tuple(
    name
    for block, num_convs in enumerate(_CONVS_PER_BLOCK, start=1)
    for name in (
        *(f"block{block}_conv{conv}" for conv in range(1, num_convs + 1)),
        f"block{block}_pool",
    )
)


def layer_index(name: str) -> int:
    """Position of a layer in `VGG19_LAYERS`."""
    return VGG19_LAYERS.index(name)


def num_pools_before(name: str) -> int:
    """How many pooling layers an input passes before it reaches (and through) `name`."""
    return sum(1 for layer in VGG19_LAYERS[: layer_index(name) + 1] if layer.endswith("_pool"))


def check_layer_name(name: Any, argument: str) -> str:
    """Raises a `ValueError` with a "did you mean" suggestion for an unknown layer name."""
    if isinstance(name, str) and name in VGG19_LAYERS:
        return name
    suggestion = ""
    if isinstance(name, str):
        close = difflib.get_close_matches(name, VGG19_LAYERS, n=1)
        if close:
            suggestion = f" Did you mean {close[0]!r}?"
    raise ValueError(
        f"`{argument}` names an unknown VGG-19 layer.{suggestion} Valid layers: "
        f"{', '.join(VGG19_LAYERS)}. Received: {argument}={name!r}"
    )
