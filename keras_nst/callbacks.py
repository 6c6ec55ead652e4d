"""Keras callbacks for watching a painting."""

from __future__ import annotations

import os

import keras
import tensorflow as tf


class ImageSummary(keras.callbacks.Callback):
    """Writes the painted images to TensorBoard (`tf.summary.image`).

    Beside `keras.callbacks.TensorBoard(log_dir, update_freq=1)`, which logs the losses every
    step, this shows the images themselves, every `image_every` steps and when `fit` ends.

    Args:
        log_dir: the run's log directory; images go to its `train` subdirectory, next to
            Keras' own scalars.
        image_every: write the images every this many steps; `None` only at the end.
    """

    def __init__(self, log_dir: str, image_every: int | None = None):
        super().__init__()
        if image_every is not None and (isinstance(image_every, bool) or image_every <= 0):
            raise ValueError(
                "`image_every` must be a positive integer or None. "
                f"Received: image_every={image_every!r}"
            )
        self.log_dir = os.fspath(log_dir)
        self.image_every = image_every
        self._writer = None
        self._step = 0

    def _write(self):
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "train"))
        with self._writer.as_default():
            tf.summary.image(
                "image",
                self.model.images(),
                step=self._step,
                max_outputs=self.model.task.num_variants,
            )
        self._writer.flush()

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self.image_every and self._step % self.image_every == 0:
            self._write()

    def on_train_end(self, logs=None):
        if not self.image_every or self._step % self.image_every:
            self._write()
        if self._writer is not None:
            self._writer.close()
            self._writer = None
