"""Loss terms: the pieces a `StyleTransferModel` sums into its loss.

A term names the VGG-19 layers it reads, computes its targets from a task (once per stage:
targets change when the painting changes size, tile or frame), and scores images in two
steps:

1. `statistics(features, images, targets, rows)`: per image, quantities that *add up over
   positions* (a content term's sum of squared differences; a style term's sum of outer
   products F^T F). Statistics of a whole image are the sum of those of its parts, which is
   what makes tiles, replicas and blends a sum.
2. `score(statistics, targets, rows)`: the weighted loss of each image, and named parts for
   the logs (`style_loss/<layer>`).

Per-variant weights come from the task: row `v` of `weights` holds variant `v`'s weight times
its layer weights. A new kind of term is one class here and one entry in `TERMS`; the model
sums every term whose `applies(task)` is true. A term of your own is passed to the model
(`StyleTransferModel(task, terms=[...])`); registered with
`keras.saving.register_keras_serializable`, it is saved with the model's config
(`get_config` holds what it needs beyond the task, `from_config(config, task)` rebuilds it).

Example: a term that pulls the image's mean colour towards the style's (illustration only):

>>> class MeanColour(LossTerm):
...     key = "colour_loss"
...     def statistics(self, features, images, targets, rows):
...         pixels = ops.shape(images)[1] * ops.shape(images)[2]
...         return [ops.sum(images, axis=(1, 2)), ops.cast(pixels, "float32")]
...     def score(self, statistics, targets, rows):
...         mean = statistics[0] / statistics[1]
...         return ops.sum(ops.square(mean - targets[0]), axis=-1), {}
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from keras_nst import losses


class LossTerm:
    """One term of the loss (see the module's description).

    Attributes:
        key: the log name of the term's weighted total (e.g. `"content_loss"`).
        layers: the VGG-19 layers it reads, in network order.
        weights: `(num_variants, num_layers)` float32: each variant's weight of each layer
            (one column for a term without layers).
        spatial: whether `targets` are feature maps aligned with the image (a tiled painting
            crops them with each tile).
    """

    key = "loss"
    spatial = False
    #: Whether the term's total is logged even when every variant gives it zero weight.
    logged_unweighted = True

    def __init__(self, task):
        self.layers: list[str] = []
        self.weights = np.zeros((task.num_variants, 1), "float32")

    @classmethod
    def applies(cls, task) -> bool:
        """Whether a task needs this term (some variant gives it a non-zero weight)."""
        return True

    def targets(self, task, extract) -> list:
        """The term's targets for `task`, one array per layer.

        Args:
            task: the `StyleTask` (at the stage's size).
            extract: `extract(images) -> {layer: features}` for float32 RGB `(B, H, W, 3)`.
        """
        return []

    def target_names(self) -> list[str]:
        """A name for each array `targets` returns (default: one per layer; a term without
        layers may leave it empty, and its targets are numbered)."""
        return list(self.layers)

    def statistics(self, features, images, targets, rows) -> list:
        """Additive statistics of `images`, one tensor (leading axis: image) per entry."""
        raise NotImplementedError

    def score(self, statistics, targets, rows):
        """`(total, parts)`: each image's weighted loss `(k,)` and named `(k,)` parts."""
        raise NotImplementedError

    def part_keys(self) -> list[str]:
        """The names `score` gives its parts."""
        return []

    def __call__(self, features, images, targets, rows):
        return self.score(self.statistics(features, images, targets, rows), targets, rows)

    def get_config(self) -> dict:
        """What the term needs beyond the task to be built again (nothing by default):
        `type(term).from_config(term.get_config(), task)`."""
        return {}

    @classmethod
    def from_config(cls, config: dict, task) -> LossTerm:
        return cls(task, **config)


def serialize(term: LossTerm) -> dict:
    """A term as a model's config holds it: its registered name and its config.

    Raises:
        ValueError: the term's class is not registered with
            `keras.saving.register_keras_serializable`.
    """
    name = keras.saving.get_registered_name(type(term))
    if keras.saving.get_registered_object(name) is not type(term):
        raise ValueError(
            f"A loss term must be registered with keras.saving.register_keras_serializable to "
            f"be saved in a config. Received: a {type(term).__name__} that is not"
        )
    return {"class_name": name, "config": term.get_config()}


def deserialize(data: dict, task) -> LossTerm:
    """The term `serialize` described, built for `task`.

    Raises:
        ValueError: no term class is registered under its name.
    """
    cls = keras.saving.get_registered_object(data.get("class_name"))
    if cls is None or not (isinstance(cls, type) and issubclass(cls, LossTerm)):
        raise ValueError(
            "`terms` must name loss terms registered with keras.saving."
            f"register_keras_serializable. Received: {data.get('class_name')!r}"
        )
    return cls.from_config(dict(data.get("config") or {}), task)


def _layer_weights(task, kind: str, names: list[str]) -> np.ndarray:
    """`(num_variants, num_layers)`: each variant's `<kind>_weight` times its layer weight,
    0 for layers the variant does not use."""
    rows = [
        [getattr(v, f"{kind}_weight") * getattr(v, f"{kind}_layers").get(n, 0.0) for n in names]
        for v in task.variants
    ]
    return np.array(rows, "float32").reshape(task.num_variants, len(names))


def zeros(rows):
    """A `(k,)` float32 zero per row: where a sum over layers starts."""
    return ops.zeros_like(ops.cast(rows, "float32"))


def per_row(values, rows):
    """The rows `rows` (variant indices) of a per-variant array."""
    return ops.take(ops.convert_to_tensor(values), rows, axis=0)


@keras.saving.register_keras_serializable(package="keras_nst")
class ContentTerm(LossTerm):
    """Gatys et al.'s content loss: `alpha * sum_l w_l * 1/2 sum (F_l - P_l)^2`."""

    key = "content_loss"
    spatial = True

    def __init__(self, task):
        self.layers = task.content_layer_names
        self.weights = _layer_weights(task, "content", self.layers)
        self.normalized = task.calibration == "normalized"

    def targets(self, task, extract) -> list:
        features = extract(task.content_image[None].astype("float32"))
        return [features[name] for name in self.layers]

    def statistics(self, features, images, targets, rows) -> list:
        return [
            losses.content_loss(features[name], target)
            for name, target in zip(self.layers, targets)
        ]

    def score(self, statistics, targets, rows):
        weights = per_row(self.weights, rows)
        total = zeros(rows)
        for index, layer_loss in enumerate(statistics):
            if self.normalized:
                # Relative to the target's own size, 1/2 sum P^2: the same for any scale of
                # the layer's features and any image size.
                target = ops.cast(targets[index], "float32")
                layer_loss = layer_loss / ops.maximum(0.5 * ops.sum(ops.square(target)), 1e-12)
            total = total + weights[:, index] * layer_loss
        return total, {}


class _StyleTerm(LossTerm):
    """What the style terms share: the style layers, each variant's weights and blend, and
    which `style_loss` setting selects the term."""

    key = "style_loss"
    style_loss = ""

    def __init__(self, task):
        self.layers = task.style_layer_names
        self.weights = _layer_weights(task, "style", self.layers)
        self._blend = np.array([variant.style_blend for variant in task.variants], "float32")
        self.normalized = task.calibration == "normalized"

    @classmethod
    def applies(cls, task) -> bool:
        return task.style_loss == cls.style_loss

    def part_keys(self) -> list[str]:
        return [f"style_loss/{name}" for name in self.layers]

    def distance(self, index: int, statistics, targets, rows):
        """Layer `index`'s distance of the images' statistics to the target, `(k,)`."""
        raise NotImplementedError

    def score(self, statistics, targets, rows):
        weights = per_row(self.weights, rows)
        parts = {}
        total = zeros(rows)
        for index, name in enumerate(self.layers):
            layer_loss = weights[:, index] * self.distance(index, statistics, targets, rows)
            parts[f"style_loss/{name}"] = layer_loss
            total = total + layer_loss
        return total, parts

    def _per_style_image(self, task, extract, statistic) -> dict:
        """`{layer: [statistic of each style image]}`, one pass through VGG-19 per style
        image; `statistic(features) -> {layer: value}` reads a `FeatureSource`."""
        found = {name: [] for name in self.layers}
        for image in task.style_images:
            for name, value in statistic(extract(image[None].astype("float32"))).items():
                found[name].append(value)
        return found


@keras.saving.register_keras_serializable(package="keras_nst")
class GramStyleTerm(_StyleTerm):
    """Gatys et al.'s style loss: `beta * sum_l w_l * E_l`, with
    `E_l = sum (G_l - A_l)^2 / (4 N_l^2 M_l^2)` and `G_l` the Gram matrix of layer l.

    Statistics: the sum of outer products `F^T F` of each layer and its number of positions
    `M`, both additive. Targets: each variant's blend of the style images' Grams divided by
    their own `M` (see `losses.gram_matrix`).
    """

    style_loss = "gram"

    def _style_gram(self, features) -> dict:
        if not features.tiled:
            return {name: losses.gram_matrix(features[name])[0] for name in self.layers}
        # Tile by tile: from the additive moments, never assembling a whole map.
        moments = features.moments(self.layers)
        return {
            name: ops.convert_to_tensor((outer[0] / count).astype("float32"))
            for name, (_, outer, count) in moments.items()
        }

    def targets(self, task, extract) -> list:
        grams = self._per_style_image(task, extract, self._style_gram)
        return [
            ops.einsum("vs,sij->vij", self._blend, ops.stack(grams[name])) for name in self.layers
        ]

    def statistics(self, features, images, targets, rows) -> list:
        statistics = []
        for name in self.layers:
            outer, count = losses.outer_sum(features[name])
            statistics += [outer, count]
        return statistics

    def distance(self, index: int, statistics, targets, rows):
        outer, count = statistics[2 * index], statistics[2 * index + 1]
        target = per_row(targets[index], rows)
        distance = losses.gram_distance(outer / count, target)
        if self.normalized:
            # Relative to the target's own size: sum (G - A)^2 / sum A^2.
            distance = distance / ops.maximum(
                losses.gram_distance(ops.zeros_like(target), target), 1e-30
            )
        return distance


@keras.saving.register_keras_serializable(package="keras_nst")
class MeanCovarianceStyleTerm(_StyleTerm):
    """Style as the mean and covariance of each layer's features, compared by the squared
    2-Wasserstein distance between Gaussians of those moments (as crowsonkb's
    style-transfer-pytorch and Kolkin et al. do; not in Gatys et al.):

    `beta * sum_l w_l * (|m - m_s|^2 + tr(C) + tr(C_s) - 2 tr((C_s^1/2 C C_s^1/2)^1/2))`,

    divided, with `calibration="normalized"`, by the target's `|m_s|^2 + tr(C_s)` (its mean
    squared feature), so that it is relative like the other terms.

    Statistics: `sum F`, `sum F F^T` and `M`, all additive. Targets per layer: each variant's
    blended mean, covariance (blending the style images' first and second moments) and a root
    of the covariance (`losses.style_root`: only its non-zero directions, so that each step's
    eigenproblem is as small as the style's rank), computed once per stage in float64.
    """

    style_loss = "mean_cov"

    def target_names(self) -> list[str]:
        return [f"{name}_{part}" for name in self.layers for part in ("mean", "cov", "root")]

    def _style_moments(self, features) -> dict:
        return {
            name: (total[0] / count, outer[0] / count)
            for name, (total, outer, count) in features.moments(self.layers).items()
        }

    def targets(self, task, extract) -> list:
        moments = self._per_style_image(task, extract, self._style_moments)
        result = []
        for name in self.layers:
            means = np.stack([m for m, _ in moments[name]])
            seconds = np.stack([s for _, s in moments[name]])
            mean = np.einsum("vs,sn->vn", self._blend, means)
            second = np.einsum("vs,snm->vnm", self._blend, seconds)
            covariance = second - np.einsum("vn,vm->vnm", mean, mean)
            covariance = 0.5 * (covariance + np.transpose(covariance, (0, 2, 1)))
            root = losses.style_root(covariance)
            result += [mean.astype("float32"), covariance.astype("float32"), root.astype("float32")]
        return result

    def statistics(self, features, images, targets, rows) -> list:
        statistics = []
        for name in self.layers:
            statistics += list(losses.feature_sums(features[name]))
        return statistics

    def distance(self, index: int, statistics, targets, rows):
        sums, outer, count = statistics[3 * index : 3 * index + 3]
        target_mean, target_cov, target_root = (
            per_row(t, rows) for t in targets[3 * index : 3 * index + 3]
        )
        mean = sums / count
        covariance = outer / count - ops.einsum("bn,bm->bnm", mean, mean)
        energy = ops.sum(ops.square(target_mean), axis=-1) + ops.trace(target_cov, axis1=1, axis2=2)
        num_channels = ops.cast(ops.shape(mean)[-1], "float32")
        # The square roots' regulariser (see `losses.trace_sqrt_product`): (1e-4 of the
        # target's mean variance)^2, so the distance is off by at most 1e-4 of tr(C_s).
        delta = ops.square(1e-4 * ops.trace(target_cov, axis1=1, axis2=2) / num_channels) + 1e-30
        distance = losses.wasserstein2(
            mean, covariance, target_mean, target_cov, target_root, delta
        )
        if self.normalized:
            distance = distance / ops.maximum(energy, 1e-30)
        return distance


@keras.saving.register_keras_serializable(package="keras_nst")
class TotalVariationTerm(LossTerm):
    """An optional smoothness prior (not in Gatys et al.):
    `weight * sum (neighbour differences)^2`."""

    key = "total_variation_loss"
    spatial = True
    logged_unweighted = False

    def __init__(self, task):
        self.layers = []
        self.weights = np.array([[v.total_variation_weight] for v in task.variants], "float32")
        self.normalized = task.calibration == "normalized"

    def statistics(self, features, images, targets, rows) -> list:
        shape = ops.shape(images)
        return [losses.total_variation_loss(images), ops.cast(shape[1] * shape[2], "float32")]

    def score(self, statistics, targets, rows):
        value = statistics[0]
        if self.normalized:
            # Per pixel, in units of the full range: the same for any image size.
            value = value / (statistics[1] * 255.0**2)
        return per_row(self.weights, rows)[:, 0] * value, {}


@keras.saving.register_keras_serializable(package="keras_nst")
class TemporalTerm(LossTerm):
    """Ruder et al.'s short-term temporal loss for a frame of a video (not in Gatys et al.):
    `weight * 1/D * sum c * (x - w)^2`, with `w` the previous painted frame warped along the
    input's optical flow into this frame, `c` the mask of pixels where that flow is trusted
    (`keras_nst.video.consistency_mask`; a video painting also leaves out what the frame
    shows anew, `keras_nst.video.novelty`) and `D = H * W * 3`. With `calibration="normalized"`
    it is also divided by 255^2 (per pixel, in units of the full range, like the TV term).

    Only a video painting adds it (`applies` is false for a task), and sets `previous` to
    `(warped, mask)` before each frame's targets are computed; the first frame has none and
    the term is zero there.
    """

    key = "temporal_loss"
    spatial = True

    def __init__(self, task, weight: float):
        self.layers = []
        self.weights = np.full((task.num_variants, 1), weight, "float32")
        self.normalized = task.calibration == "normalized"
        self.previous = None

    @classmethod
    def applies(cls, task) -> bool:
        return False

    def get_config(self) -> dict:
        return {"weight": float(self.weights[0, 0]) if self.weights.size else 0.0}

    def target_names(self) -> list[str]:
        return ["warped", "mask"]

    def targets(self, task, extract) -> list:
        if self.previous is None:
            return [
                np.zeros((1, task.height, task.width, 3), "float32"),
                np.zeros((1, task.height, task.width, 1), "float32"),
            ]
        warped, mask = self.previous
        if tuple(warped.shape[:2]) != (task.height, task.width):
            raise ValueError(
                f"The temporal term's previous frame is {warped.shape[1]} x {warped.shape[0]}; "
                f"the frame is {task.width} x {task.height}."
            )
        return [np.asarray(warped, "float32")[None], np.asarray(mask, "float32")[None, ..., None]]

    def statistics(self, features, images, targets, rows) -> list:
        warped, mask = (ops.cast(t, "float32") for t in targets)
        images = ops.cast(images, "float32")
        squared = ops.sum(mask * ops.square(images - warped), axis=(1, 2, 3))
        shape = ops.shape(images)
        return [squared, ops.cast(shape[1] * shape[2] * 3, "float32")]

    def score(self, statistics, targets, rows):
        value = statistics[0] / statistics[1]
        if self.normalized:
            value = value / 255.0**2
        return per_row(self.weights, rows)[:, 0] * value, {}


#: Every kind of term, in the order the model sums them.
TERMS = {
    "content": ContentTerm,
    "style": GramStyleTerm,
    "mean_cov_style": MeanCovarianceStyleTerm,
    "total_variation": TotalVariationTerm,
}


def default_terms(task) -> list[LossTerm]:
    """The terms a task's settings ask for, in `TERMS` order."""
    return [term(task) for term in TERMS.values() if term.applies(task)]
