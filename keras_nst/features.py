"""What a loss term's `targets` reads: an image's VGG-19 features, whole or tile by tile.

A term computes its targets from `extract(images)`, a `FeatureSource`: `[name]` is one
layer's feature map, `moments(names)` each layer's additive moments `(sum F, sum F^T F, M)`
in float64. An image too large to go through VGG-19 whole gives `TiledFeatures`, which
compute both tile by tile (`tiled` says which); terms need not know more.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from keras_nst import vgg19
from keras_nst.tiles import TilePlan


class FeatureSource:
    """An image's features, as a term's `targets` reads them.

    Attributes:
        tiled: whether the features are computed tile by tile (`moments` is then the cheap
            way to read them: `[name]` assembles a whole map).
    """

    tiled = False

    def __getitem__(self, name: str):
        """Layer `name`'s features, `(B, H, W, C)`."""
        raise NotImplementedError

    def moments(self, names) -> dict:
        """`{name: (sum F (B, C), sum F^T F (B, C, C), M)}` in float64, per image."""
        raise NotImplementedError


class WholeFeatures(FeatureSource):
    """The features of an image that went through VGG-19 whole: `features` maps layer names
    to `(B, H, W, C)` tensors."""

    def __init__(self, features: dict):
        self._features = features

    def __getitem__(self, name: str):
        return self._features[name]

    def moments(self, names) -> dict:
        result = {}
        for name in names:
            values = np.asarray(ops.convert_to_numpy(self._features[name]), np.float64)
            values = values.reshape(values.shape[0], -1, values.shape[-1])
            result[name] = (
                values.sum(1),
                np.matmul(values.transpose(0, 2, 1), values),
                values.shape[1],
            )
        return result


class TiledFeatures(FeatureSource):
    """An image's features computed tile by tile, for the targets of an image too large to go
    through VGG-19 whole: `[name]` assembles one layer's map from the tiles' cores (numpy);
    `moments(names)` gives each layer's `(sum F, sum F^T F, M)` in float64 per image without
    assembling any map."""

    tiled = True

    def __init__(self, features, images, plan: TilePlan):
        self._features, self._images, self._plan = features, images, plan
        self._cache = {}

    def _cores(self, names):
        for tile in self._plan.tiles:
            top, bottom, left, right = tile.crop
            outputs = self._features(self._images[:, top:bottom, left:right])
            cores = {}
            for name in names:
                stride = vgg19.stride(name)
                a, b, c, d = tile.core_in_crop(stride)
                cores[name] = ops.convert_to_numpy(ops.cast(outputs[name][:, a:b, c:d], "float32"))
            del outputs
            yield tile, cores

    def __getitem__(self, name):
        if name not in self._cache:
            count, height, width = (int(n) for n in self._images.shape[:3])
            stride = vgg19.stride(name)
            full = np.zeros(
                (count, height // stride, width // stride, vgg19.channels(name)), "float32"
            )
            for tile, cores in self._cores([name]):
                core = cores[name]
                y, x = tile.core[0] // stride, tile.core[2] // stride
                full[:, y : y + core.shape[1], x : x + core.shape[2]] = core
            self._cache[name] = ops.convert_to_tensor(full)
        return self._cache[name]

    def moments(self, names):
        sums = {name: None for name in names}
        for _, cores in self._cores(names):
            for name in list(cores):
                core = cores.pop(name)
                values = core.reshape(core.shape[0], -1, core.shape[-1])
                # In float64, a block of positions at a time: a whole core of a large tile in
                # float64 would be gigabytes.
                step = max(1, 2**22 // values.shape[-1])
                for start in range(0, values.shape[1], step):
                    block = values[:, start : start + step].astype(np.float64)
                    part = (
                        block.sum(1),
                        np.matmul(block.transpose(0, 2, 1), block),
                        block.shape[1],
                    )
                    sums[name] = (
                        part
                        if sums[name] is None
                        else tuple(a + b for a, b in zip(sums[name], part))
                    )
        return sums
