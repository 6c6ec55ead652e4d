"""An image's features computed tile by tile: the targets of an image too large to go through
VGG-19 whole."""

from __future__ import annotations

import numpy as np
from keras import ops

from keras_nst import vgg19
from keras_nst.tiles import TilePlan


class TiledFeatures:
    """An image's features computed tile by tile, for the targets of an image too large to go
    through VGG-19 whole: `[name]` assembles one layer's map from the tiles' cores (numpy);
    `moments(names)` gives each layer's `(sum F, sum F^T F, M)` in float64 per image without
    assembling any map."""

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
