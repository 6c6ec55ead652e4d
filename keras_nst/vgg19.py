"""Facts about VGG-19's convolutional stack: layer names, channels, pooling, receptive fields.

TensorFlow-free, so tasks, memory estimates, tile plans and the command line can reason about
the network before TensorFlow starts. Names are Keras' (`block4_conv2`); Keras' convolution
layers include their ReLU, so `block4_conv2` is Gatys et al.'s `relu4_2`.
"""

from __future__ import annotations

import difflib
from typing import Any

_CONVS_PER_BLOCK = (2, 2, 4, 4, 4)
_BLOCK_CHANNELS = (64, 128, 256, 512, 512)

#: Every layer of VGG-19's convolutional stack in order.
VGG19_LAYERS: tuple[str, ...] = tuple(
    name
    for block, num_convs in enumerate(_CONVS_PER_BLOCK, start=1)
    for name in (
        *(f"block{block}_conv{conv}" for conv in range(1, num_convs + 1)),
        f"block{block}_pool",
    )
)

#: The 16 convolutions (each a 3x3 kernel, stride 1, "same" padding, then a ReLU).
CONV_LAYERS: tuple[str, ...] = tuple(name for name in VGG19_LAYERS if "_conv" in name)


def block(name: str) -> int:
    """The block (1 to 5) a layer belongs to."""
    return int(name[len("block")])


def channels(name: str) -> int:
    """Feature channels of a layer's output."""
    return _BLOCK_CHANNELS[block(name) - 1]


def input_channels(name: str) -> int:
    """Channels a layer reads: RGB for the first convolution, else the previous layer's."""
    index = layer_index(name)
    return 3 if index == 0 else channels(VGG19_LAYERS[index - 1])


def layer_index(name: str) -> int:
    """Position of a layer in `VGG19_LAYERS`."""
    return VGG19_LAYERS.index(name)


def layers_through(deepest: str) -> tuple[str, ...]:
    """The layers an input passes through up to and including `deepest`."""
    return VGG19_LAYERS[: layer_index(deepest) + 1]


def num_pools_before(name: str) -> int:
    """How many pooling layers an input passes before it reaches (and through) `name`."""
    return sum(1 for layer in layers_through(name) if layer.endswith("_pool"))


def stride(name: str) -> int:
    """Input pixels per feature pixel of `name`'s output, along each side: 2 per pooling."""
    return 2 ** num_pools_before(name)


def deepest(names) -> str:
    """The layer of `names` furthest into the network."""
    return max(names, key=layer_index)


def receptive_radius(name: str) -> int:
    """Input pixels on each side of a position that can affect `name`'s value there.

    Each 3x3 convolution widens the field by one position of its own resolution, and each
    2x2 pooling doubles the size of a position. A tile of the image needs a margin (halo) of
    this many pixels for its features at `name` to equal those of the whole image.
    """
    radius, stride = 0, 1
    for layer in layers_through(name):
        if layer.endswith("_pool"):
            radius += stride  # the 2x2 window reaches one position further on one side
            stride *= 2
        else:
            radius += stride
    return radius


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


#: Pooling choices of the extractor: Gatys et al.'s average pooling, or VGG-19's own max pooling.
POOLING = ("avg", "max")


def check_pooling(pooling: Any, argument: str = "pooling") -> str:
    if pooling not in POOLING:
        raise ValueError(f"`{argument}` must be one of {POOLING}. Received: {argument}={pooling!r}")
    return pooling
