"""How a stage goes through VGG-19: whole, tile by tile, or with only its first layers tiled,
and what the tiles keep between a step's two passes.

The decisions behind a tiled step (`keras_nst.tiled_step` executes them): where the image is
cut into tiles, where VGG-19 may be split so that only its first layers are tiled, and which
activations the tiles keep. Each is taken from the layers the loss terms read and from the
memory estimate (`keras_nst.memory`). TensorFlow-free.
"""

from __future__ import annotations

from keras_nst import memory, vgg19
from keras_nst.tiles import TilePlan


def check_fits(task, precision: str) -> None:
    """Refuses, with the largest size that fits, a task too large to paint whole
    (`memory.check_fits`)."""
    memory.check_fits(task, precision=precision)


def before_deepest(cut: str, layer_names) -> bool:
    """Whether VGG-19 can be split after `cut`: it comes before the deepest layer read."""
    return vgg19.layer_index(cut) < vgg19.layer_index(vgg19.deepest(layer_names))


def plan_for(height: int, width: int, tile: int | None, layer_names) -> TilePlan | None:
    """The tile plan of a `height x width` image in crops of at most `tile` px, or `None`
    when it goes through whole."""
    if not tile or max(height, width) <= tile:
        return None
    plan = TilePlan.for_image(height, width, crop=tile, deepest=vgg19.deepest(layer_names))
    return plan if plan.tiled else None


def split_for(task, plan, tile, tile_cut, layer_names, precision, splittable=True):
    """`(cut, plan)` of a tiled stage that tiles only VGG-19's layers through `cut`, or `None`
    when every layer is tiled (`plan`).

    Args:
        tile_cut: `"auto"` (where that fits and costs less, `memory.split_plan`), a pooling
            layer's name, or `None` (never).
        splittable: whether the extractor is VGG-19 built here, on one device (a given
            extractor is not split; under a strategy the replicas share the tiles of `plan`).

    Raises:
        ValueError: a `tile_cut` at or after the deepest layer read.
    """
    if plan is None or tile_cut is None or not splittable:
        return None
    deepest = vgg19.deepest(layer_names)
    if tile_cut == "auto":
        # The optimizer's copies of the image count in both estimates alike: Adam's.
        choice = memory.split_plan(task, tile, precision=precision)
        # (Planned from the task's layers: terms of one's own may read fewer.)
        if choice is None or not before_deepest(choice[0], layer_names):
            return None
        cut, crop = choice
    else:
        if vgg19.layer_index(tile_cut) >= vgg19.layer_index(deepest):
            raise ValueError(
                f"`tile_cut` must come before the deepest layer used ({deepest}). "
                f"Received: tile_cut={tile_cut!r}"
            )
        cut, crop = tile_cut, tile
    return cut, TilePlan.for_image(task.height, task.width, crop=crop, deepest=cut)


def keep_for(task, tile, tiles, layer_names, *, optimizer, precision, available, splittable):
    """`(cut, count)`: after which layer, and for how many of a pass' `tiles`, activations
    are kept for the second pass (`memory.keep_plan`); `(None, 0)` where the extractor
    cannot be split or nothing would fit.

    Args:
        optimizer: the compiled optimizer's name (its copies of the image count).
        available: bytes a step may use; `None`: what the host has available.
    """
    if not splittable:
        return None, 0
    cut, count = memory.keep_plan(
        task, tile, tiles, optimizer=optimizer, precision=precision, available=available
    )
    # (Planned from the task's layers: terms of one's own may read fewer.)
    return (cut, count) if cut is None or before_deepest(cut, layer_names) else (None, 0)
