"""VGG-19 feature extractor: Keras' VGG-19 with average pooling, cut after the deepest layer."""

from __future__ import annotations

from collections.abc import Iterable

import keras
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
    values = weights_lib.conv_weights_through(weights, seed, wanted[-1])

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
