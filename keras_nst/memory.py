"""Estimating a painting's peak memory before it starts, and refusing what cannot fit.

TensorFlow-free: the command line checks before TensorFlow starts. The model is linear in the
number of activation values, calibrated on this project's benchmarks (2-core x86-64, TensorFlow
2.21): about 780 MB for the runtime and the weights, plus about 6 bytes per VGG-19 activation
value in bfloat16 (12 in float32), plus the image and the optimizer's copies of it.
"""

from __future__ import annotations

import math

from keras_nst import vgg19
from keras_nst.vgg19 import channels, layers_through

RUNTIME_BYTES = 780 * 2**20
BYTES_PER_ACTIVATION = {"mixed_bfloat16": 6, "float32": 12}
#: Copies of the image each optimizer keeps (Adam: two moments; L-BFGS: 2 per history pair + 2).
OPTIMIZER_COPIES = {"adam": 2, "rmsprop": 1, "sgd": 0, "lbfgs": 22}


def activation_values(height: int, width: int, deepest: str) -> int:
    """Values VGG-19 produces for one `height x width` image up to and including `deepest`."""
    total = 0
    for name in layers_through(deepest):
        if name.endswith("_pool"):
            height, width = height // 2, width // 2
        total += height * width * channels(name)
    return total


def estimate_peak_bytes(task, *, optimizer: str = "adam", precision: str = "float32") -> int:
    """Estimated peak resident memory of painting `task`, in bytes."""
    layers = task.content_layer_names + task.style_layer_names
    deepest = vgg19.deepest(layers)
    values = activation_values(task.height, task.width, deepest) * task.num_variants
    image = 4 * task.num_variants * task.height * task.width * 3
    copies = 1 + OPTIMIZER_COPIES.get(optimizer, 2)
    return int(RUNTIME_BYTES + values * BYTES_PER_ACTIVATION[precision] + image * copies)


def available_bytes() -> int | None:
    """Memory available to a new allocation (Linux `MemAvailable`), or `None` if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_images_fit(shapes, argument: str, value, available=None) -> None:
    """Refuses image sizes whose pixels alone (float32 RGB) exceed the available memory.

    A floor that costs nothing to check, before any image is resized: whatever else a
    painting needs, it holds its images.

    Raises:
        ValueError: naming `argument` and `value`.
    """
    needed = sum(4 * 3 * height * width for height, width in shapes)
    available = available_bytes() if available is None else available
    if available is not None and needed > available:
        height, width = max(shapes, key=lambda shape: shape[0] * shape[1])
        raise ValueError(
            f"`{argument}` is too large: {len(shapes)} image(s) of {width}x{height} need "
            f"{needed / 2**30:.3g} GiB as float32 before any painting, and "
            f"{available / 2**30:.1f} GiB is available. Received: {argument}={value}"
        )


def check_fits(task, *, optimizer: str = "adam", precision: str = "float32", available=None) -> int:
    """Raises a `ValueError` naming the largest size that fits when `task` would not fit.

    Returns:
        The estimate in bytes.
    """
    needed = estimate_peak_bytes(task, optimizer=optimizer, precision=precision)
    available = available_bytes() if available is None else available
    if available is None or needed <= available:
        return needed
    # Activations scale with the area: the largest size whose estimate fits.
    fixed = RUNTIME_BYTES
    scale = math.sqrt(max(available - fixed, 0) / max(needed - fixed, 1))
    largest = int(max(task.height, task.width) * scale) // 16 * 16
    suggestion = (
        f"; the largest size that fits is about {largest} px (size={largest})"
        if largest >= 16
        else "; no size fits"
    )
    raise ValueError(
        f"`size` is too large: painting {task.num_variants} image(s) of {task.width}x{task.height} "
        f"needs about {needed / 2**30:.1f} GiB, and {available / 2**30:.1f} GiB is available"
        f"{suggestion}. Received: size={task.size}"
    )
