"""The checks of a setting's value, and the parsers of its command-line text.

Each check takes the value and the name to use in errors, and returns the clean value or
raises one `ValueError` naming the argument, what was expected and what was received. The
table of settings (`keras_nst.settings`) gives each setting its check and parser.
TensorFlow-free.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from keras_nst import vgg19

# === Checks (each takes the value and the name to use in errors, returns the clean value) ===


def check_weight(value: Any, argument: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(float(value))
        or value < 0
    ):
        raise ValueError(
            f"`{argument}` must be a finite number >= 0. Received: {argument}={value!r}"
        )
    return float(value)


def check_seed(seed: Any, argument: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`{argument}` must be an integer >= 0. Received: {argument}={seed!r}")
    return int(seed)


def check_positive_int(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{argument}` must be a positive integer. Received: {argument}={value!r}")
    return int(value)


def check_optional_positive_int(value: Any, argument: str) -> int | None:
    return None if value is None else check_positive_int(value, argument)


def check_size(size: Any, argument: str = "size") -> int | None:
    """A "longest side in pixels" argument, as an `int` (or `None`)."""
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
        raise ValueError(
            f"`{argument}` must be a positive integer (the longest side in pixels) or None. "
            f"Received: {argument}={size!r}"
        )
    return int(size)


def check_layers(layers: Any, argument: str) -> dict[str, float]:
    """A `{layer: weight}` mapping; a plain list of names means equal weights summing to 1."""
    if isinstance(layers, Mapping):
        items = list(layers.items())
    elif isinstance(layers, Sequence) and not isinstance(layers, str):
        items = [(name, 1.0 / len(layers)) for name in layers] if layers else []
    else:
        raise ValueError(
            f"`{argument}` must be a dict of VGG-19 layer names to weights, e.g. "
            f"{{'block4_conv2': 1.0}}. Received: {argument}={layers!r}"
        )
    checked = {}
    for name, weight in items:
        checked[vgg19.check_layer_name(name, argument)] = check_weight(
            weight, f"{argument}[{name!r}]"
        )
    return dict(sorted(checked.items(), key=lambda item: vgg19.layer_index(item[0])))


def layers_or(default: dict[str, float]) -> Callable[[Any, str], dict[str, float]]:
    """`check_layers`, with `None` meaning the default layers."""

    def check(layers: Any, argument: str) -> dict[str, float]:
        return check_layers(default if layers is None else layers, argument)

    return check


def check_noise_ratio(value: Any, argument: str) -> float:
    ratio = check_weight(value, argument)
    if ratio > 1:
        raise ValueError(f"`{argument}` must be in [0, 1]. Received: {argument}={value!r}")
    return ratio


def check_blend(blend: Any, argument: str) -> tuple[float, ...] | None:
    """Weights of several style images (their number is checked by the task)."""
    if blend is None:
        return None
    if isinstance(blend, (str, Mapping)) or not isinstance(blend, Sequence):
        raise ValueError(
            f"`{argument}` must be a list of weights, one per style image. "
            f"Received: {argument}={blend!r}"
        )
    return tuple(check_weight(value, f"{argument}[{index}]") for index, value in enumerate(blend))


def one_of(options: Sequence[Any]) -> Callable[[Any, str], Any]:
    def check(value: Any, argument: str) -> Any:
        if value not in options:
            raise ValueError(
                f"`{argument}` must be one of {', '.join(map(str, options))}. "
                f"Received: {argument}={value!r}"
            )
        return value

    return check


def check_optional_positive_number(value: Any, argument: str) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(float(value))
        or value <= 0
    ):
        raise ValueError(
            f"`{argument}` must be a number > 0 or None. Received: {argument}={value!r}"
        )
    return float(value)


def check_fraction(value: Any, argument: str) -> float:
    """A number in [0, 1)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.number))
        or not 0 <= value < 1
    ):
        raise ValueError(f"`{argument}` must be a number in [0, 1). Received: {argument}={value!r}")
    return float(value)


def check_ratio(value: Any, argument: str) -> float:
    """A finite number > 1."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.number))
        or not math.isfinite(value)
        or value <= 1
    ):
        raise ValueError(
            f"`{argument}` must be a finite number > 1. Received: {argument}={value!r}"
        )
    return float(value)


def check_optional_size(value: Any, argument: str) -> int | None:
    """A positive integer, or 0/None for "none"."""
    if value is None or (
        isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value == 0
    ):
        return None
    return check_size(value, argument)


def check_size_or_auto(size: Any, argument: str = "size") -> int | str | None:
    """A size, or `"auto"`: the largest that this machine paints without tiles."""
    if isinstance(size, str) and size.strip().lower() == "auto":
        return "auto"
    if isinstance(size, str):  # the command line's digits are a number already (`int_or_auto`)
        raise ValueError(
            f"`{argument}` must be a positive integer or 'auto'. Received: {argument}={size!r}"
        )
    return check_size(size, argument)


def int_or_auto(text: str) -> int | str:
    """The command line's `--size`: a number, or `auto` (anything else is left to the check)."""
    return int(text) if text.strip().isdigit() else text


def check_tile(value: Any, argument: str = "tile") -> int | None:
    """`None` (automatic), 0 (never) or a tile side of at least 16 pixels."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or (0 < value < 16)
        or value < 0
    ):
        raise ValueError(
            f"`{argument}` must be 0 (never tile), a tile side of at least 16 pixels, or None "
            f"(tile only what does not fit). Received: {argument}={value!r}"
        )
    return int(value)


_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "kib": 2**10,
    "m": 10**6,
    "mb": 10**6,
    "mib": 2**20,
    "g": 10**9,
    "gb": 10**9,
    "gib": 2**30,
    "t": 10**12,
    "tb": 10**12,
    "tib": 2**40,
}


def check_tile_cut(value: Any, argument: str = "tile_cut") -> str | None:
    """`"auto"`, a pooling layer of `memory.CUTS`, or `None` (`"none"`): tile every layer."""
    from keras_nst import memory

    if value is None or value == "none":
        return None
    if value == "auto" or value in memory.CUTS:
        return value
    raise ValueError(
        f"`{argument}` must be auto, none or one of {', '.join(memory.CUTS)}. "
        f"Received: {argument}={value!r}"
    )


def check_memory(value: Any, argument: str = "max_memory") -> int | None:
    """`None` (what the machine has available), bytes as an integer, or text such as `"12GiB"`,
    `"8G"` or `"500MB"`."""
    if value is None:
        return None
    number = None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        number = int(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        digits = text.rstrip("abcdefghijklmnopqrstuvwxyz")
        unit = text[len(digits) :]
        try:
            if unit in _UNITS:
                number = int(float(digits) * _UNITS[unit])
        except ValueError:
            number = None
    if number is None or number <= 0:
        raise ValueError(
            f"`{argument}` must be a positive number of bytes, such as 12GiB, 8G or 500MB. "
            f"Received: {argument}={value!r}"
        )
    return number


def optional_text(text: str) -> str | None:
    """Text, with `none`/`off` meaning `None` (on the command line and in `--task` files,
    which cannot hold a `None`)."""
    return None if text.lower() in ("none", "off", "") else text


# === Command-line parsers (text to value) ===


def parse_layer_weights(text: str) -> dict[str, float]:
    """`block1_conv1=0.5,block2_conv1=0.5` or `block4_conv2` (weight 1 each)."""
    layers = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, weight = item.partition("=")
        try:
            layers[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"layer weights must look like 'block4_conv2=1.0,block5_conv2=0.5'; "
                f"{weight!r} is not a number"
            ) from None
    return layers


def parse_float_list(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as '0.7,0.3'; got {text!r}"
        ) from None
