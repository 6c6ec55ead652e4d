"""The canvas: the image being painted, its running average, and moving them between stages.

The image, `(num_variants, H, W, 3)` RGB in [0, 255], is a painting's only trainable variable.
A running average of it (bias-corrected, per pixel) is the picture painted out. A
coarse-to-fine painting moves to a larger canvas between stages: the image is resized as
float32 (never rounded to 8 bits on the way), and so are the optimizer's per-pixel slots
(`keras_nst.optimizers.carried_over`), so the optimisation goes on where it was. With
`preserve_color="luminance"` the network sees the image's luminance only, and the picture
painted out is the photo's colours with the painted luminance.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_nst import optimizers as optimizers_lib
from keras_nst.colour import LUMA, with_luminance

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


@keras.saving.register_keras_serializable(package="keras_nst")
class PixelRange(keras.constraints.Constraint):
    """Keeps pixels in [0, 255] after every optimizer update.

    Gatys et al. optimise unconstrained; clipping keeps the image displayable and the
    optimiser from wandering into colours no picture has (a projected-gradient step).
    """

    def __call__(self, w):
        return ops.clip(w, 0.0, 255.0)


def seen(images, preserve_color: str | None):
    """What the network sees of `images`: with `preserve_color="luminance"` their luminance
    only (grey in all three channels)."""
    if preserve_color == "luminance":
        luma = ops.sum(
            ops.cast(images, "float32") * ops.convert_to_tensor(LUMA), axis=-1, keepdims=True
        )
        images = ops.concatenate([luma, luma, luma], axis=-1)
    return images


def shown(painted, task):
    """The float painting as it is painted out: with `preserve_color="luminance"`, the photo's
    colours with the painted luminance."""
    if getattr(task, "preserve_color", None) == "luminance":
        return with_luminance(task.content_image, painted)
    return painted


def checked_keep(keep, old_shape, shape) -> np.ndarray:
    """A `keep_average` (True, or how much of its history each pixel keeps) as a float32
    `(H, W)` array in [0, 1], or a ValueError."""
    if old_shape != shape:
        raise ValueError(
            f"`keep_average` needs the canvas to keep its size {old_shape}. "
            f"Received: a task of shape {shape}"
        )
    if keep is True:
        return np.ones(shape[1:3], "float32")
    keep = np.asarray(keep, "float32")
    if keep.shape != shape[1:3] or not np.all((keep >= 0) & (keep <= 1)):
        raise ValueError(
            f"`keep_average` must be True or an array of shape {shape[1:3]} with values in "
            f"[0, 1]. Received: an array of shape {keep.shape} with values from "
            f"{keep.min() if keep.size else 'none'} to {keep.max() if keep.size else 'none'}"
        )
    return keep


class Canvas:
    """The image variable and its running average.

    Args:
        make_variable: `make_variable(value, name, trainable=False, constraint=None,
            written=False)`: a variable of the model that owns the canvas.
        forget: `forget(variable)`: the owner stops tracking a variable the canvas replaced.
        average: decay of the running average (0: none; the image is painted out as it is).

    Attributes:
        image: the trainable image, `(num_variants, H, W, 3)`, or `None` before the first
            stage.
        image_average: the running average's sum (`None` without an average).
        image_average_weight: its bias correction per pixel, `1 - decay^steps`.
    """

    def __init__(self, make_variable, forget, average: float):
        self.make_variable = make_variable
        self.forget = forget
        self.average = average
        self.image = None
        self.image_average = None
        self.image_average_weight = None

    def replace(self, images, optimizer, carry=resize, new_optimizer=None, keep=None):
        """New variables for a canvas of `images`' shape: the image (the optimizer's slots
        moved with `carry`, or `new_optimizer` built for it), a fresh running average, which
        goes on where `keep` says (`checked_keep`). Returns the optimizer to paint with
        from now on, or `None` where it stays as it is."""
        old_average = (self.image_average, self.image_average_weight)
        optimizer = self._set_image(images, optimizer, carry, new_optimizer)
        self._set_average()
        if keep is not None:
            self._keep_average(old_average, keep, carry, tuple(self.image.shape))
        return optimizer

    def repaint(self, images, optimizer, carry, keep) -> None:
        """`replace` without new variables: assigns the image, the optimizer's per-pixel
        slots (moved with `carry`) and the running average, so that a step compiled for
        them goes on without tracing again."""
        shape = tuple(self.image.shape)
        old_average = None  # (a copy: the variables are about to be reset)
        if self.image_average is not None:
            old_average = tuple(
                np.array(ops.convert_to_numpy(v))
                for v in (self.image_average, self.image_average_weight)
            )
        self.image.assign(ops.convert_to_tensor(images, "float32"))
        optimizers_lib.carry_in_place(optimizer, self.image, carry)
        if self.image_average is not None:
            self.image_average.assign(ops.zeros_like(self.image_average))
            self.image_average_weight.assign(ops.zeros_like(self.image_average_weight))
            if keep is not None:
                self._keep_average(old_average, keep, carry, shape)

    def _set_image(self, images, optimizer, carry, new_optimizer):
        old = self.image
        if old is not None:
            self.forget(old)
        self.image = self.make_variable(images, "image", trainable=True, constraint=PixelRange())
        if new_optimizer is not None:
            # Made anew here: an optimizer's variables belong to the strategy it was made
            # under, and the caller (a callback) runs outside the model's.
            new_optimizer = type(new_optimizer).from_config(new_optimizer.get_config())
            new_optimizer.build([self.image])
            if optimizer is not None:
                new_optimizer.iterations.assign(optimizer.iterations)
            return new_optimizer
        if old is not None and optimizer is not None and optimizer.built:
            return optimizers_lib.carried_over(optimizer, self.image, carry)
        return None

    def _keep_average(self, old_average, keep, carry, shape) -> None:
        average, weight = old_average
        # The average's sum and its weight move (and fade) together, so that their ratio at
        # a kept pixel is the moved average.
        moved = carry(ops.concatenate([average, weight], axis=-1), shape[1:3], "bilinear", None)
        moved = ops.convert_to_tensor(moved) * keep[None, :, :, None]
        self.image_average.assign(moved[..., :3])
        self.image_average_weight.assign(moved[..., 3:])

    def _set_average(self) -> None:
        """A fresh running average for the current canvas (restarted at each stage)."""
        for variable in (self.image_average, self.image_average_weight):
            if variable is not None:
                self.forget(variable)
        if not self.average:
            self.image_average = self.image_average_weight = None
            return
        # Written by the step (from the first replica's values, like the image).
        self.image_average = self.make_variable(
            ops.zeros_like(self.image), "image_average", written=True
        )
        # Per pixel: a video restarts the average where a frame shows something new.
        self.image_average_weight = self.make_variable(
            ops.zeros_like(self.image[..., :1]), "image_average_weight", written=True
        )

    def update_average(self) -> None:
        """One step of the running average (after each optimizer step)."""
        decay = self.average
        self.image_average.assign(decay * self.image_average + (1.0 - decay) * self.image)
        self.image_average_weight.assign(decay * self.image_average_weight + (1.0 - decay))

    def painted(self):
        """The painting so far, float `(num_variants, H, W, 3)`: the bias-corrected running
        average of the image where there is one (`average` > 0 and a step taken), else the
        image itself."""
        image = ops.convert_to_tensor(self.image)
        if self.image_average is None:
            return image
        weight = ops.convert_to_tensor(self.image_average_weight)
        average = ops.convert_to_tensor(self.image_average) / ops.maximum(weight, 1e-12)
        return ops.where(weight > 0.0, average, image)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The painting's own state, for checkpoints: the image, and the average if any."""
        arrays = {"image": ops.convert_to_numpy(self.image)}
        if self.image_average is not None:
            arrays["average"] = ops.convert_to_numpy(self.image_average)
            arrays["average_weight"] = np.asarray(ops.convert_to_numpy(self.image_average_weight))
        return arrays

    def assign_state_arrays(self, arrays: dict) -> None:
        """Puts back what `state_arrays` gave."""
        self.image.assign(arrays["image"])
        if self.image_average is not None and "average" in arrays:
            self.image_average.assign(arrays["average"])
            # (Checkpoints before the per-pixel weight hold one number.)
            weight = np.broadcast_to(
                arrays["average_weight"], tuple(self.image_average_weight.shape)
            )
            self.image_average_weight.assign(weight)
