"""How long a painting will take on this machine, roughly, before its first step.

A step of VGG-19 through layer L costs about three forward passes (the forward pass and the
gradient with respect to the image; the frozen weights get none), and a forward pass costs
`2 * 9 * C_in * C_out` operations per position of each 3x3 convolution. This machine's speed
is measured once per process with a half-second matrix product. Measured on 2 AVX2 cores, a
step ran at 0.85 to 1.1 times the product's rate (128 and 256 px); on CPUs with AMX and
bfloat16 at 0.25 to 0.7 times it: `EFFICIENCY` is between, so the estimate is within about
a factor of two. The progress line's time left, measured on the painting's own steps, is the
better figure once it starts.
"""

from __future__ import annotations

import functools
import time

from keras_nst import vgg19

#: A step's rate relative to a large float32 matrix product on the same machine.
EFFICIENCY = 0.7
#: Seconds a step costs besides its arithmetic (the Python and the optimizer's update).
STEP_OVERHEAD = 0.02


def forward_flops(height: int, width: int, deepest: str) -> float:
    """Operations of one VGG-19 forward pass of a `height x width` image through `deepest`."""
    total = 0.0
    for name in vgg19.layers_through(deepest):
        if name in vgg19.CONV_LAYERS:
            positions = (height // vgg19.stride(name)) * (width // vgg19.stride(name))
            total += 2 * 9 * vgg19.input_channels(name) * vgg19.channels(name) * positions
    return total


@functools.lru_cache(maxsize=1)
def machine_flops() -> float:
    """Operations per second of a float32 1024 x 1024 matrix product here, measured once."""
    import tensorflow as tf

    a = tf.random.normal((1024, 1024))
    product = tf.function(lambda: tf.matmul(a, a))
    product().numpy()
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < 0.5:
        product().numpy()
        count += 1
    return 2 * 1024**3 * count / (time.perf_counter() - start)


def estimate_seconds(task, schedule, layer_names, done: int = 0, flops: float | None = None):
    """Seconds the steps of `schedule` after the first `done` will take, for `task` (its
    aspect ratio and variants), reading `layer_names`; `flops`: this machine's rate
    (default: `machine_flops()`)."""
    flops = flops or machine_flops()
    deepest = vgg19.deepest(layer_names)
    seconds, step = 0.0, 0
    for stage in schedule.stages:
        left = min(stage.steps, max(0, step + stage.steps - done))
        step += stage.steps
        if not left:
            continue
        shape = task.at_size(stage.size) if task.size else task
        work = 3 * forward_flops(shape.height, shape.width, deepest) * task.num_variants
        seconds += left * (work / (flops * EFFICIENCY) + STEP_OVERHEAD)
    return seconds


def roughly(seconds: float) -> str:
    """`about 40 minutes`, `about 2 hours`, `under a minute`."""
    if seconds < 60:
        return "under a minute"
    minutes = seconds / 60
    if minutes < 90:
        return f"about {max(1, round(minutes))} minute{'s' if round(minutes) > 1 else ''}"
    return f"about {minutes / 60:.1f} hours"
