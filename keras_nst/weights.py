"""Where VGG-19's numbers come from: ImageNet, a local file, or seeded random weights.

TensorFlow-free (scipy only for MatConvNet files), so the command line can check a `weights`
argument before TensorFlow starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from keras_nst.vgg19 import CONV_LAYERS  # noqa: F401  (re-exported)
from keras_nst.paths import check_input_file

#: Extensions of the weight files `weights=<path>` accepts.
WEIGHT_FILE_SUFFIXES = (".weights.h5", ".h5", ".mat")

#: Seconds any single network operation may block while the ImageNet weights download.
DOWNLOAD_TIMEOUT_SECONDS = 15.0


class WeightsUnavailableError(RuntimeError):
    """The ImageNet VGG-19 weights could not be fetched (offline, blocked, or corrupt)."""


def check_weights(weights: Any) -> str | Path | None:
    """Checks a `weights` argument: `"imagenet"`, `None`, or an existing weight file.

    Returns:
        `"imagenet"`, `None` or a `Path`.

    Raises:
        ValueError: anything else, naming what was expected.
    """
    if weights is None or weights == "imagenet":
        return weights
    if isinstance(weights, (str, os.PathLike)):
        path = Path(weights)
        if not any(path.name.endswith(suffix) for suffix in WEIGHT_FILE_SUFFIXES):
            raise ValueError(
                "`weights` must be 'imagenet', None, or a path to a VGG-19 weight file ending "
                f"in one of {WEIGHT_FILE_SUFFIXES}. Received: weights={str(weights)!r}"
            )
        return check_input_file(path, "weights")
    raise ValueError(
        "`weights` must be 'imagenet', None, or a path to a VGG-19 weight file. "
        f"Received: weights={weights!r}"
    )


def he_normal_weights(shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...]]], seed: int):
    """Seeded He-normal weights: kernels ~ N(0, 2 / fan_in), biases zero.

    He et al. (2015)'s initialisation keeps activations' scale through ReLU layers, so random
    VGG-19 features still carry texture and colour statistics (He, Wang and Hopcroft, 2016).
    Drawn with numpy from `seed`, layer by layer in network order, so the same seed gives the
    same weights bit for bit on any machine, however deep the extractor is cut.

    Args:
        shapes: `{layer_name: (kernel_shape, bias_shape)}` in network order.
        seed: non-negative integer.

    Returns:
        `{layer_name: (kernel, bias)}` float32 arrays.
    """
    rng = np.random.default_rng(seed)
    weights = {}
    for name, (kernel_shape, bias_shape) in shapes.items():
        fan_in = int(np.prod(kernel_shape[:-1]))
        kernel = rng.standard_normal(kernel_shape, dtype=np.float32) * np.float32(
            np.sqrt(2.0 / fan_in)
        )
        weights[name] = (kernel, np.zeros(bias_shape, dtype=np.float32))
    return weights


def _matconvnet_name(keras_name: str) -> str:
    # block3_conv2 -> conv3_2
    block, conv = keras_name.split("_")
    return f"conv{block[len('block'):]}_{conv[len('conv'):]}"


def load_matconvnet(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Reads MatConvNet's `imagenet-vgg-verydeep-19.mat` (the file Gatys-era code used).

    MatConvNet stores kernels as `(width, height, in, out)` for RGB input; Keras' VGG-19 takes
    BGR (Caffe order) as `(height, width, in, out)`. Kernels are transposed, and the first
    layer's input channels reversed, so the result plugs into Keras' layers unchanged.

    Returns:
        `{keras_layer_name: (kernel, bias)}` float32 arrays for the 16 conv layers.

    Raises:
        ValueError: scipy is missing, or the file is not a MatConvNet VGG-19.
    """
    try:
        import scipy.io
    except ImportError:
        raise ValueError(
            "`weights` is a MatConvNet .mat file, which needs scipy: pip install scipy "
            f"(or keras-nst[matconvnet]). Received: weights='{path}'"
        ) from None
    try:
        contents = scipy.io.loadmat(str(path), squeeze_me=True, struct_as_record=False)
        layers = np.atleast_1d(contents["layers"])
        found = {}
        for layer in layers:
            name = str(getattr(layer, "name", ""))
            if name.startswith("conv"):
                kernel, bias = layer.weights
                found[name] = (np.asarray(kernel), np.asarray(bias))
    except Exception as error:  # scipy raises many kinds for a file that is not .mat
        raise ValueError(
            "`weights` could not be read as a MatConvNet VGG-19 .mat file "
            f"({type(error).__name__}: {error}). Received: weights='{path}'"
        ) from None
    weights = {}
    for keras_name in CONV_LAYERS:
        name = _matconvnet_name(keras_name)
        if name not in found:
            raise ValueError(
                f"`weights` file has no layer {name!r}; it is not MatConvNet's VGG-19. "
                f"Received: weights='{path}'"
            )
        kernel, bias = found[name]
        kernel = np.transpose(kernel, (1, 0, 2, 3)).astype(np.float32)
        if keras_name == "block1_conv1":
            kernel = kernel[:, :, ::-1, :]
        weights[keras_name] = (np.ascontiguousarray(kernel), bias.reshape(-1).astype(np.float32))
    return weights


def save_matconvnet(path: str | os.PathLike, weights: dict[str, tuple[np.ndarray, np.ndarray]]):
    """Writes conv weights in MatConvNet's VGG-19 layout (the inverse of `load_matconvnet`).

    Useful to hand keras-nst weights to MatConvNet-era tools, and to test the reader.
    """
    import scipy.io

    layers = np.empty(len(weights), dtype=object)
    for index, (keras_name, (kernel, bias)) in enumerate(weights.items()):
        kernel = np.asarray(kernel, dtype=np.float32)
        if keras_name == "block1_conv1":
            kernel = kernel[:, :, ::-1, :]
        pair = np.empty(2, dtype=object)
        pair[0] = np.transpose(kernel, (1, 0, 2, 3))
        pair[1] = np.asarray(bias, dtype=np.float32).reshape(-1, 1)
        layers[index] = {"name": _matconvnet_name(keras_name), "type": "conv", "weights": pair}
    scipy.io.savemat(str(path), {"layers": layers})
