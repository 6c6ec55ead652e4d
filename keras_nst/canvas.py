"""The canvas between stages: resizing a painting (and anything shaped like it) in float.

A coarse-to-fine painting moves to a larger canvas between stages. The image is resized as
float32 (never rounded to 8 bits on the way), and so are the optimizer's per-pixel slots
(`keras_nst.optimizers.carried_over`), so the optimisation goes on where it was.
"""

from __future__ import annotations

import tensorflow as tf
from keras import ops

#: How per-pixel values are resized: smooth values bicubically; values that must stay
#: non-negative (Adam's second moments) bilinearly, which never overshoots below zero.
RESIZE_METHODS = ("bicubic", "bilinear")


def resize(
    values,
    size: tuple[int, int],
    method: str = "bicubic",
    clip: tuple[float, float] | None = (0.0, 255.0),
):
    """Resizes `(B, H, W, C)` float values to `size = (height, width)`.

    Args:
        values: float tensor or array.
        size: the new `(height, width)`.
        method: `"bicubic"` or `"bilinear"`.
        clip: `(low, high)` to clip to (bicubic interpolation overshoots), or `None`.

    Returns:
        float32 `(B, height, width, C)`.
    """
    values = ops.convert_to_tensor(values, "float32")
    if tuple(values.shape[1:3]) == tuple(size):
        resized = values
    else:
        resized = tf.image.resize(values, size, method=method, antialias=False)
    if clip is not None:
        resized = ops.clip(resized, clip[0], clip[1])
    return resized
