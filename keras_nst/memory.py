"""Estimating a painting's peak memory before it starts, and refusing what cannot fit.

TensorFlow-free: the command line checks before TensorFlow starts. The model is linear in the
number of activation values, calibrated on this project's benchmarks (2-core x86-64, TensorFlow
2.21): about 780 MB for the runtime and the weights, plus about 6 bytes per VGG-19 activation
value in bfloat16 (8 in float32), plus the image and the optimizer's copies of it.

Measured peaks over 6 to 20 steps (float32 untiled, conv1_1 to conv5_1): 1.13 GiB at 512 x 384
px, 2.34 at 1024 x 768, 6.79 at 2048 x 1536, about 6.3 bytes per value above the runtime,
which the estimate's 8 bytes cover with 10-22% to spare; bfloat16 2.12 GiB at 1024 x 768 px.
Those are oneDNN's kernels; where TensorFlow runs its own (`EIGEN_FACTOR`), twice the bytes.
"""

from __future__ import annotations

import math

from keras_nst import vgg19
from keras_nst.vgg19 import channels, layers_through

RUNTIME_BYTES = 780 * 2**20
BYTES_PER_ACTIVATION = {"mixed_bfloat16": 6, "float32": 8}
#: The same for a tile's crop: a tiled step holds more per value (at 8 bytes in float32, a 1024
#: x 768 px painting in two tiles peaked at 2.59 GiB for 2.42 estimated, a 4096 px one in four
#: at 18.35 for 17.69).
BYTES_PER_TILED_ACTIVATION = {"mixed_bfloat16": 8, "float32": 10}
#: The figures above are for TensorFlow's oneDNN kernels (its default on CPUs with VNNI,
#: AVX512-BF16 or AMX). Its own kernels (Eigen; the default elsewhere, such as AVX2-only CPUs)
#: hold about twice as much per value: float32 untiled on an AVX2 EPYC, 1.55 GiB at 512 x 384
#: px and 3.74 at 1024 x 768 (12.4 bytes per value above the runtime, against 6.3).
EIGEN_FACTOR = 2


def bytes_per_value(precision: str, table: dict | None = None) -> float:
    """Bytes of peak memory per VGG-19 activation value (`table`, by default
    `BYTES_PER_ACTIVATION`), for the kernels TensorFlow will use on this CPU
    (`keras_nst.precision.onednn_kernels`)."""
    from keras_nst.precision import onednn_kernels

    return (table or BYTES_PER_ACTIVATION)[precision] * (1 if onednn_kernels() else EIGEN_FACTOR)


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


def _values_from(height: int, width: int, cut: str, deepest: str) -> int:
    """Values VGG-19 produces for one `height x width` image from `cut` (its output included)
    up to `deepest`."""
    before_cut = vgg19.VGG19_LAYERS[vgg19.layer_index(cut) - 1]
    return activation_values(height, width, deepest) - activation_values(height, width, before_cut)


def estimate_peak_bytes(task, *, optimizer: str = "adam", precision: str = "float32") -> int:
    """Estimated peak resident memory of painting `task`, in bytes."""
    deepest = vgg19.deepest(task.content_layer_names + task.style_layer_names)
    return _untiled_bytes(task.height, task.width, task.num_variants, deepest, optimizer, precision)


def _untiled_bytes(
    height: int, width: int, count: int, deepest: str, optimizer: str, precision: str
) -> int:
    """The runtime, VGG-19's activations up to `deepest` and the images (with the optimizer's
    copies) of `count` images of `height x width` painted whole."""
    values = activation_values(height, width, deepest) * count
    image = 4 * count * height * width * 3
    copies = 1 + OPTIMIZER_COPIES.get(optimizer, 2)
    return int(RUNTIME_BYTES + values * bytes_per_value(precision) + image * copies)


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


def _full_size_bytes(task, optimizer: str) -> int:
    """What a tiled painting keeps at full size: the image and its copies (optimizer slots,
    running average, gradient and its per-tile sum) and the content features."""
    pixels = task.num_variants * task.height * task.width
    copies = 4 + OPTIMIZER_COPIES.get(optimizer, 2)
    content = 0
    for name in task.content_layer_names:
        stride = vgg19.stride(name)
        # Kept as a target, and assembled once from the tiles while it is computed.
        content += 2 * 4 * (task.height // stride) * (task.width // stride) * channels(name)
    return 4 * 3 * pixels * copies + content


def estimate_tiled_bytes(
    task, crop: int, *, optimizer: str = "adam", precision: str = "float32"
) -> int:
    """Estimated peak memory of painting `task` tile by tile, tiles' crops at most `crop` px."""
    from keras_nst.tiles import TilePlan

    deepest = vgg19.deepest(task.content_layer_names + task.style_layer_names)
    # The plan's largest crop, not crop x crop: cores split the image evenly, so the crops are
    # often much smaller than the most that `crop` allows (2 x 2 tiles of 2048 x 1536 px under
    # crop=1376 are 1120 x 864 px at most).
    height, width = TilePlan.largest_crop_for(task.height, task.width, crop=crop, deepest=deepest)
    values = activation_values(height, width, deepest) * task.num_variants
    return int(
        RUNTIME_BYTES
        + values * bytes_per_value(precision, BYTES_PER_TILED_ACTIVATION)
        + _full_size_bytes(task, optimizer)
    )


#: Where a tiled step may split VGG-19 to keep a tile's deeper activations between its two
#: passes (`keep_plan`), shallowest first.
CUTS = ("block1_pool", "block2_pool", "block3_pool")
#: The share of a crop's front activations (`estimate_split_bytes`) still counted in the
#: peak of a step that tiles only the front, on top of the back's: the memory freed between
#: the passes is not all reused. Measured, float32 on an AVX-512 EPYC with oneDNN's kernels,
#: as (peak - everything else) / the front's estimate: 0.52 with two crops through pool2 at
#: 512 x 384 px, 0.46 with four through pool3 at 4096 x 4096; with the whole image in one
#: crop through pool1 (which `split_plan` no longer chooses), 0.66 at 1024 x 768 and 0.73 at
#: 2048 x 1536 (8.93 GiB, more than the untiled step's 6.93). With TensorFlow's own kernels
#: (`EIGEN_FACTOR`) the peaks of four crops through pool2 stayed under the back's estimate
#: alone (AVX2 EPYC, 512 to 2048 px), so none is counted there.
FRONT_HELD = 0.6
#: Bytes per kept activation value (the forward pass's outputs that its gradient reads).
BYTES_PER_KEPT = {"mixed_bfloat16": 2, "float32": 4}


def forward_share_after(cut: str, deepest: str) -> float:
    """The share of VGG-19's forward multiply-adds up to `deepest` that come after `cut`
    (per pixel of the input; the pools' and ReLUs' arithmetic is negligible)."""
    total = after = 0.0
    area, passed = 1.0, False
    for name in layers_through(deepest):
        if name.endswith("_pool"):
            area /= 4
        else:
            macs = area * 9 * vgg19.input_channels(name) * channels(name)
            total += macs
            after += macs if passed else 0.0
        passed = passed or name == cut
    return after / total


def keep_plan(
    task,
    crop: int,
    tiles: int,
    *,
    optimizer: str = "adam",
    precision: str = "float32",
    available=None,
) -> tuple[str | None, int]:
    """`(cut, count)`: how many of `tiles` tiles (crops at most `crop` px) a tiled step can
    keep VGG-19's activations after `cut` for, between the statistics pass and the gradient
    pass, within `available` bytes (`(None, 0)`: none). Each kept tile saves that share of
    its forward pass in the second pass; the choice saves the most forward arithmetic."""
    available = available_bytes() if available is None else available
    if available is None or tiles <= 0:
        return None, 0
    from keras_nst.tiles import TilePlan

    deepest = vgg19.deepest(task.content_layer_names + task.style_layer_names)
    height, width = TilePlan.largest_crop_for(task.height, task.width, crop=crop, deepest=deepest)
    spare = available - estimate_tiled_bytes(task, crop, optimizer=optimizer, precision=precision)
    best, best_saving = (None, 0), 0.0
    for cut in CUTS:
        if vgg19.layer_index(cut) >= vgg19.layer_index(deepest):
            break
        # What comes after the cut, and the cut's own output (the second pass differentiates
        # the front against it).
        kept = _values_from(height, width, cut, deepest)
        per_tile = kept * task.num_variants * bytes_per_value(precision, BYTES_PER_KEPT)
        count = min(tiles, max(0, int(spare // per_tile)))
        saving = count * forward_share_after(cut, deepest)
        if saving > best_saving:
            best, best_saving = (cut, count), saving
    return best


def estimate_split_bytes(
    task, cut: str, crop: int, *, optimizer: str = "adam", precision: str = "float32"
) -> int:
    """Estimated peak memory of a tiled step that tiles only VGG-19's layers through `cut`
    (crops at most `crop` px, a halo for `cut`) and runs the layers after it on the whole
    image's `cut` output (see `StyleTransferModel`'s `tile_cut`).

    The front's tiles run before and after the back, so in principle only the larger of
    the two is held at once; measured, the peaks are higher: the back's values and
    `FRONT_HELD` of a crop's front (or the front alone, if larger), plus the whole image's
    `cut` output and its gradient."""
    from keras_nst.precision import onednn_kernels
    from keras_nst.tiles import TilePlan

    deepest = vgg19.deepest(task.content_layer_names + task.style_layer_names)
    count = task.num_variants
    height, width = TilePlan.largest_crop_for(task.height, task.width, crop=crop, deepest=cut)
    front = (
        activation_values(height, width, cut)
        * count
        * bytes_per_value(precision, BYTES_PER_TILED_ACTIVATION)
    )
    back = _values_from(task.height, task.width, cut, deepest) * count * bytes_per_value(precision)
    stride = vgg19.stride(cut)
    cut_values = (task.height // stride) * (task.width // stride) * channels(cut) * count
    held = FRONT_HELD if onednn_kernels() else 0.0
    return int(
        RUNTIME_BYTES
        + _full_size_bytes(task, optimizer)
        + max(front, back + held * front)
        + 2 * 4 * cut_values
    )


def split_plan(
    task, tile: int, *, optimizer: str = "adam", precision: str = "float32"
) -> tuple[str, int] | None:
    """`(cut, crop)`: the cheapest way to paint `task` in the memory that tiles of `tile` px
    would take by tiling only VGG-19's layers through `cut` (crops of at most `crop` px) and
    running the rest on the whole image, or `None` when tiling every layer is cheaper or
    nothing else fits.

    The cost, in forward passes over the image: a step is a forward and a backward pass
    (about 2); tiling every layer costs the crops' overlap times a forward pass of each tile,
    then a forward and a backward pass of all but one (`3 - 1/tiles`; what the tiles keep
    between passes, which depends on the memory left, is not counted); tiling the front
    costs the back's share twice and the front's share three times (its tiles run forward
    for the statistics, then forward and backward for the gradient) times its overlap. The
    halo of the front is that of `cut` (12 px for pool2), not of the deepest layer (96 px for
    conv5_1), which is what makes it cheap."""
    from keras_nst.tiles import TilePlan, geometry

    deepest = vgg19.deepest(task.content_layer_names + task.style_layer_names)
    height, width = task.height, task.width
    budget = estimate_tiled_bytes(task, tile, optimizer=optimizer, precision=precision)
    tiles = TilePlan.count_for(height, width, crop=tile, deepest=deepest)
    best, best_cost = (
        None,
        TilePlan.overlap_for(height, width, crop=tile, deepest=deepest) * (3 - 1 / tiles),
    )
    for cut in CUTS:
        if vgg19.layer_index(cut) >= vgg19.layer_index(deepest):
            break
        stride, halo = geometry(cut)

        def fits(crop: int, cut: str = cut) -> bool:
            return (
                estimate_split_bytes(task, cut, crop, optimizer=optimizer, precision=precision)
                <= budget
            )

        # At least two crops: the whole image in one is the untiled step with more work
        # and, measured, more memory than the untiled step's.
        low, high = 2 * halo + stride, max(height, width)
        if not fits(low):
            continue
        while high - low > stride:  # the largest crop that fits, by bisection
            middle = (low + high) // 2
            low, high = (middle, high) if fits(middle) else (low, middle)
        front = 1 - forward_share_after(cut, deepest)
        cost = 2 * (1 - front) + 3 * front * TilePlan.overlap_for(
            height, width, crop=low, deepest=cut
        )
        if cost < best_cost:
            best, best_cost = (cut, low), cost
    return best


def plan_tile(
    task,
    *,
    optimizer: str = "adam",
    precision: str = "float32",
    available=None,
    scale_optimizer: bool = False,
) -> int | None:
    """The `tile` (largest crop side) that lets `task` fit in `available` bytes: `None` when
    it fits untiled, else the largest multiple of 16 whose tiled estimate fits.

    `scale_optimizer`: `task` is a smaller scale of the painting, painted with `optimizer` as
    its `scale_optimizer` (the error then names that setting, not `size`).

    Raises:
        ValueError: not even small tiles fit (the full-size copies of the image alone do not).
    """
    available = available_bytes() if available is None else available
    if (
        available is None
        or estimate_peak_bytes(task, optimizer=optimizer, precision=precision) <= available
    ):
        return None
    from keras_nst.tiles import geometry

    stride, halo = geometry(vgg19.deepest(task.content_layer_names + task.style_layer_names))
    smallest = 2 * halo + stride
    low, high = smallest, max(task.height, task.width)
    needed = estimate_tiled_bytes(task, low, optimizer=optimizer, precision=precision)
    if needed > available:
        if scale_optimizer:
            what = (
                f"`scale_optimizer` does not fit: even tile by tile, painting the smaller scale of "
                f"{task.width}x{task.height} with {optimizer!r} "
                f"({OPTIMIZER_COPIES.get(optimizer, 2)} copies of the image)"
            )
            remedy = "; scale_optimizer=None paints every scale with `optimizer`"
            received = f"scale_optimizer={optimizer!r}"
        else:
            what = (
                f"`size` is too large: even tile by tile, painting {task.num_variants} image(s) "
                f"of {task.width}x{task.height}"
            )
            remedy, received = "", f"size={task.size}"
        raise ValueError(
            f"{what} needs about {needed / 2**30:.1f} GiB (the image's full-size copies), and "
            f"{available / 2**30:.1f} GiB is available{remedy}. Received: {received}"
        )
    while high - low > 16:  # the largest crop that fits, by bisection
        middle = (low + high) // 2 // 16 * 16
        if middle <= low:
            break
        if (
            estimate_tiled_bytes(task, middle, optimizer=optimizer, precision=precision)
            <= available
        ):
            low = middle
        else:
            high = middle
    return low // 16 * 16 if low >= 16 else low


def largest_size(
    height: int,
    width: int,
    task_like,
    *,
    optimizer: str = "adam",
    precision: str = "float32",
    available=None,
) -> int:
    """The largest longest side (a multiple of 16) at which a photo of `height x width` paints
    untiled in `available` bytes, for the layers of `task_like` (anything with
    `content_layer_names`, `style_layer_names` and `num_variants`)."""
    available = available_bytes() if available is None else available
    if available is None:  # unknown: the photo's own size
        return max(height, width)
    deepest = vgg19.deepest(task_like.content_layer_names + task_like.style_layer_names)

    def fits(side: int) -> bool:
        scale = side / max(height, width)
        h, w = max(1, round(height * scale)), max(1, round(width * scale))
        return (
            _untiled_bytes(h, w, task_like.num_variants, deepest, optimizer, precision) <= available
        )

    side = 16
    while fits(side * 2):
        side *= 2
    step = side // 2
    while step >= 16:
        if fits(side + step):
            side += step
        step //= 2
    return side
