"""Helpers shared by the benchmark suites: building models, timing fit, counting FLOPs."""

from __future__ import annotations

import time

import keras
import numpy as np
from conftest import CONTENT, STYLE

from keras_nst import StyleTask
from keras_nst.painting import build_model


def make_model(
    size, optimizer="adam", pooling="avg", precision="auto", weights=None, **task_kwargs
):
    """The compiled model `keras_nst.stylize` would paint this task with."""
    task = StyleTask(CONTENT, STYLE, size=size, **task_kwargs)
    model = build_model(
        task, weights=weights, optimizer=optimizer, pooling=pooling, precision=precision
    )
    return task, model


class LossCurve(keras.callbacks.Callback):
    """Records (seconds since fit began, loss, content_loss, style_loss) after every step."""

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.rows = []

    def on_train_batch_end(self, batch, logs=None):
        logs = {k: float(np.asarray(v)) for k, v in (logs or {}).items()}
        self.rows.append(
            [
                time.perf_counter() - self.start,
                logs["loss"],
                logs["content_loss"],
                logs["style_loss"],
            ]
        )


def step_flops(model) -> float:
    """Floating-point operations of one step: VGG forward + input gradient, and the Grams.

    A 3x3 convolution costs 2 * h * w * 9 * c_in * c_out forward; its input gradient (a
    transposed convolution) costs the same; the frozen weights need no gradient. Each Gram
    costs 2 * M * N^2 forward and twice that backward. Pooling and element-wise work are left
    out (under 1%).
    """
    task = model.task
    height, width = task.height, task.width
    flops = 0.0
    for layer in model.extractor.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel = layer.kernel.shape
            flops += 2 * 2 * height * width * kernel[0] * kernel[1] * kernel[2] * kernel[3]
            if layer.name in model.style_layer_names:
                flops += 3 * 2 * height * width * kernel[3] ** 2
        elif layer.name.endswith("_pool"):
            height, width = height // 2, width // 2
    return flops * task.num_variants
