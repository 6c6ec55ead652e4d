"""Tile plans: a large image cut into overlapping tiles whose features are exact.

TensorFlow-free. A tile is a *core* (the part of the image it is responsible for; the cores
partition the image) and a *crop* (the core plus a halo, clipped at the image's borders)
that goes through VGG-19. The halo is at least the receptive radius of the deepest layer used
(`vgg19.receptive_radius`) and every boundary is a multiple of the deepest layer's stride
(`2 ** pools`), so each pooling window of the crop is one of the whole image's: the crop's
features inside the core are exactly the whole image's features there. Where the crop meets
the image border the network pads as it would for the whole image.

A tiled painting sums each tile's additive layer statistics (`keras_nst.terms`) over the
cores, so the loss is the whole image's; then each tile's gradient is taken against the
whole image's statistics (see `StyleTransferModel`), so the step is the untiled step up to
float rounding, with no seams (the halo is cropped away).

>>> plan = TilePlan.for_image(512, 512, crop=448, deepest="block5_conv1")
>>> len(plan.tiles), plan.tile, plan.halo
(4, 256, 96)
"""

from __future__ import annotations

import dataclasses
import math

from keras_nst import vgg19


@dataclasses.dataclass(frozen=True)
class Tile:
    """One tile: `core` and `crop` as `(top, bottom, left, right)` pixel bounds (end excluded)."""

    core: tuple[int, int, int, int]
    crop: tuple[int, int, int, int]

    def core_in_crop(self, stride: int = 1) -> tuple[int, int, int, int]:
        """The core's bounds inside the crop, at a layer `stride` times coarser than the image.

        A core that ends at the crop's end (the image border) keeps every position the layer
        has there (pooling drops a trailing odd row, for the crop as for the whole image).
        """
        top, bottom, left, right = self.core
        crop_top, crop_bottom, crop_left, crop_right = self.crop
        return (
            (top - crop_top) // stride,
            None if bottom == crop_bottom else (bottom - crop_top) // stride,
            (left - crop_left) // stride,
            None if right == crop_right else (right - crop_left) // stride,
        )

    @property
    def crop_shape(self) -> tuple[int, int]:
        return self.crop[1] - self.crop[0], self.crop[3] - self.crop[2]


@dataclasses.dataclass(frozen=True)
class TilePlan:
    """The tiles of a `height x width` image (see the module's description).

    Attributes:
        height, width: the image's size.
        tile: the largest core side, a multiple of `stride`.
        halo: pixels of context on each side of a core, a multiple of `stride`.
        stride: the deepest layer's stride (`2 ** pools`): every boundary is a multiple of it.
        tiles: the tiles, row by row.
    """

    height: int
    width: int
    tile: int
    halo: int
    stride: int
    tiles: tuple[Tile, ...]

    @classmethod
    def for_image(cls, height: int, width: int, *, crop: int, deepest: str) -> TilePlan:
        """Cuts `height x width` into tiles whose crops (core and halo) are at most `crop` px
        on a side: cores of `crop - 2 * halo` px rounded down to the stride (at least one
        stride), the halo wide enough for `deepest`'s features to be exact."""
        stride, halo = geometry(deepest)
        tile = _core_side(crop, stride, halo)
        tiles = []
        rows, columns = _cuts(height, tile, stride), _cuts(width, tile, stride)
        for top, bottom in rows:
            for left, right in columns:
                crop = (
                    max(0, top - halo),
                    min(height, bottom + halo),
                    max(0, left - halo),
                    min(width, right + halo),
                )
                tiles.append(Tile((top, bottom, left, right), crop))
        return cls(height, width, tile, halo, stride, tuple(tiles))

    @staticmethod
    def largest_crop_for(height: int, width: int, *, crop: int, deepest: str) -> tuple[int, int]:
        """The largest crop's (height, width) in `for_image`'s plan, without listing the tiles
        (a huge image under a small crop has millions)."""
        return tuple(max(b - a for a, b in _crop_spans(n, crop, deepest)) for n in (height, width))

    @staticmethod
    def overlap_for(height: int, width: int, *, crop: int, deepest: str) -> float:
        """The crops' pixels over the image's in `for_image`'s plan (1 for one tile; the
        halos make it more), without listing the tiles: what a pass over the tiles costs
        against a pass over the whole image."""
        rows, columns = (
            sum(b - a for a, b in _crop_spans(n, crop, deepest)) for n in (height, width)
        )
        return rows * columns / (height * width)

    @staticmethod
    def count_for(height: int, width: int, *, crop: int, deepest: str) -> int:
        """The number of tiles in `for_image`'s plan, without listing them."""
        return len(_crop_spans(height, crop, deepest)) * len(_crop_spans(width, crop, deepest))

    @property
    def tiled(self) -> bool:
        """Whether there is more than one tile."""
        return len(self.tiles) > 1

    @property
    def largest_crop(self) -> tuple[int, int]:
        """The largest crop's (height, width): what one tile's step holds in memory."""
        return max((tile.crop_shape for tile in self.tiles), key=lambda shape: shape[0] * shape[1])

    def describe(self) -> str:
        rows = len({tile.core[0] for tile in self.tiles})
        columns = len(self.tiles) // rows
        return f"{rows}x{columns} tiles of up to {self.tile} px (halo {self.halo} px)"


def geometry(deepest: str) -> tuple[int, int]:
    """`(stride, halo)` of tiles for features up to `deepest`."""
    stride = vgg19.stride(deepest)
    return stride, _round_up(vgg19.receptive_radius(deepest), stride)


def _crop_spans(length: int, crop: int, deepest: str) -> list[tuple[int, int]]:
    """The crops' `(start, end)` along one side of `length` px in `for_image`'s plan."""
    stride, halo = geometry(deepest)
    tile = _core_side(crop, stride, halo)
    return [(max(0, a - halo), min(length, b + halo)) for a, b in _cuts(length, tile, stride)]


def _core_side(crop: int, stride: int, halo: int) -> int:
    """The largest core side whose crop (core and two halos) is at most `crop`, on the stride."""
    return max(stride, (crop - 2 * halo) // stride * stride)


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _cuts(length: int, tile: int, stride: int) -> list[tuple[int, int]]:
    """`length` cut into about equal parts of at most `tile` px, inner boundaries on the stride."""
    count = max(1, math.ceil(length / tile))
    bounds = [0]
    for index in range(1, count):
        bounds.append(min(length, round(index * length / count / stride) * stride))
    bounds.append(length)
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]
