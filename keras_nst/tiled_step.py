"""The tiled step: a painting too large for one pass through VGG-19, painted tile by tile with
the whole image's statistics.

Each step has two passes over the tiles of a plan it is given (`keras_nst.tiles.TilePlan`;
the model and the memory estimate choose it, this module never does):

1. each tile's crop goes through VGG-19 and the terms' additive statistics of its core are
   summed: the whole image's statistics, from which the objective scores the whole image;
2. each tile goes through again under a tape, its statistics differentiated against the
   gradient of the loss with respect to the whole image's statistics; the crops' gradients
   add up to the image's.

The same loss and gradient as an untiled step, up to float rounding. Variations, each the
same arithmetic in less memory or time: the last tile's two passes fused into one; tiles that
keep their activations after an early pooling layer between the passes (`keeping`); and a
stage that tiles only VGG-19's first layers (`split`), running the rest on the whole image's
pooled features. Under `tf.distribute` the tiles are dealt to the replicas.
"""

from __future__ import annotations

import tensorflow as tf
from keras import ops

from keras_nst import vgg19
from keras_nst.extractor import split_at
from keras_nst.tiles import TilePlan


def _weighted_sum(flat, weights):
    """`Σ statistic · weight` over a tile's flattened statistics, in float32: its gradient is
    the tile's part of the whole image's loss gradient."""
    return tf.add_n([ops.sum(ops.cast(s, "float32") * w) for s, w in zip(flat, weights)])


def _add_crop(gradient, part, tile):
    """`gradient` (the whole image's) plus a tile's crop's gradient `part`, in its place."""
    height, width = int(gradient.shape[1]), int(gradient.shape[2])
    top, bottom, left, right = tile.crop
    return gradient + tf.pad(part, [[0, 0], [top, height - bottom], [left, width - right], [0, 0]])


def replica_share() -> tuple[int, int]:
    """(this replica's index, the number of replicas) among which the tiles are shared;
    `(0, 1)` outside a strategy's replica function."""
    context = tf.distribute.get_replica_context()
    replicas = 1 if context is None else context.num_replicas_in_sync
    if replicas == 1:
        return 0, 1
    return int(tf.get_static_value(context.replica_id_in_sync_group)), replicas


class TiledStep:
    """Losses and the image's gradient of one tiled step, for the plan it is given.

    Args:
        objective: the `keras_nst.objective.Objective` whose terms are scored.
        extractor: the VGG-19 extractor (split at a pooling layer where `split` says).
        seen: `seen(images)`: what the network sees of the images (their luminance only
            with `preserve_color="luminance"`).
        keep_plan: `keep_plan(tiles) -> (cut, count)`: after which layer, and for how many
            of the first pass' `tiles`, activations are kept for the second pass; asked once
            per stage, at its first step.

    Attributes:
        plan: the stage's `TilePlan` (every layer tiled), or `None` when it is not tiled.
        split: `(cut, TilePlan)` where only the layers through `cut` are tiled, else `None`.
        keeping: the stage's `keep_plan` answer, `None` until its first step.
    """

    def __init__(self, objective, extractor, seen, keep_plan):
        self.objective = objective
        self.extractor = extractor
        self.seen = seen
        self.keep_plan = keep_plan
        self.plan: TilePlan | None = None
        self.split = None
        self.keeping = None
        self._tile_functions = None
        self._front_functions = {}  # cut -> the compiled pieces of `_split_losses`
        self._split_functions = {}  # cut -> the compiled halves of a kept tile's passes

    def set_plan(self, plan: TilePlan | None, split=None) -> None:
        """The next stage's plan (its keeping is planned at its first step)."""
        self.plan, self.split, self.keeping = plan, split, None

    def features(self, images):
        """The extractor's features of what the network sees of `images`."""
        return self.extractor(self.seen(images))

    def _make_tile_functions(self):
        def statistics(crop, bounds, origin, targets, rows):
            return self.objective.core_statistics(
                self.features(crop), crop, bounds, origin, targets, rows
            )

        def gradient(crop, bounds, origin, targets, rows, weights):
            with tf.GradientTape() as tape:
                tape.watch(crop)
                flat = tf.nest.flatten(statistics(crop, bounds, origin, targets, rows))
                surrogate = _weighted_sum(flat, weights)
            return tape.gradient(surrogate, crop)

        def last(crop, bounds, origin, targets, rows, others, images):
            # The last tile's statistics, the whole image's score, and the last tile's
            # gradient from the same forward pass: one forward pass fewer per step than
            # running it again in the second pass.
            with tf.GradientTape(persistent=True) as tape:
                tape.watch(crop)
                tape.watch(images)
                mine = statistics(crop, bounds, origin, targets, rows)
                totals = mine if others is None else tf.nest.map_structure(tf.add, others, mine)
                flat_totals = tf.nest.flatten(totals)
                tape.watch(flat_totals)
                result, summed = self._score(
                    tf.nest.pack_sequence_as(totals, flat_totals), images, targets, rows
                )
            weights = tape.gradient(summed, flat_totals, unconnected_gradients="zero")
            return (
                result,
                weights,
                tape.gradient(summed, crop, unconnected_gradients="zero"),
                tape.gradient(summed, images, unconnected_gradients="zero"),
            )

        return (
            tf.function(statistics, reduce_retracing=True),
            tf.function(gradient, reduce_retracing=True),
            tf.function(last, reduce_retracing=True),
        )

    def _make_split_functions(self, cut):
        """Compiled pieces of the passes of a tile whose activations after `cut` are kept
        from the statistics pass to the gradient pass (VGG-19 split after `cut`): `front`
        (the front layers' features and the cut's output), `back` (the back layers'
        features, run under a tape that keeps its activations), `statistics` (the tile's,
        from both), `back_weights` (the loss gradient at the back's features) and
        `front_gradient` (the crop's gradient through the front, given the cut's)."""
        front, back = split_at(self.extractor, cut, self.objective.layer_names, self.seen)

        def statistics(front_features, back_features, crop, bounds, origin, targets, rows):
            return self.objective.core_statistics(
                {**front_features, **back_features}, crop, bounds, origin, targets, rows
            )

        def back_weights(crop, bounds, origin, targets, rows, back_features, weights):
            # d(loss)/d(back features): the front run again (forward only) for its features.
            front_features = front(crop)[0]
            with tf.GradientTape() as tape:
                tape.watch(back_features)
                flat = tf.nest.flatten(
                    statistics(front_features, back_features, crop, bounds, origin, targets, rows)
                )
                surrogate = _weighted_sum(flat, weights)
            return tape.gradient(surrogate, back_features, unconnected_gradients="zero")

        def front_gradient(
            crop, bounds, origin, targets, rows, back_features, weights, cut_gradient
        ):
            # The back's features are constants here: their part of the gradient arrives
            # through the cut (`cut_gradient`).
            with tf.GradientTape() as tape:
                tape.watch(crop)
                front_features, cut_output = front(crop)
                flat = tf.nest.flatten(
                    statistics(front_features, back_features, crop, bounds, origin, targets, rows)
                )
                surrogate = _weighted_sum(flat, weights) + ops.sum(
                    ops.cast(cut_output, "float32") * ops.cast(cut_gradient, "float32")
                )
            return tape.gradient(surrogate, crop)

        return tuple(
            tf.function(function, reduce_retracing=True)
            for function in (front, back, statistics, back_weights, front_gradient)
        )

    def _make_front_functions(self, cut):
        """Compiled pieces of a step that tiles only the layers through `cut`
        (`_split_losses`): `front_statistics` (a crop's statistics of the front layers' cores
        and its core of the cut's output), `back_statistics` (the back layers' statistics of
        the whole image, from the whole cut output) and `front_gradient` (a crop's gradient:
        its front statistics' and, through the cut, the back's)."""
        front, back = split_at(self.extractor, cut, self.objective.layer_names, self.seen)
        stride = vgg19.stride(cut)
        front_names = [
            name
            for name in self.objective.layer_names
            if vgg19.layer_index(name) <= vgg19.layer_index(cut)
        ]
        back_names = [name for name in self.objective.layer_names if name not in front_names]

        def empty(names, like):
            # Layers this part does not compute, as maps of no positions: their statistics
            # are zeros, which the other part's complete.
            count = ops.shape(like)[0]
            return {
                name: tf.zeros([count, 0, 0, vgg19.channels(name)], like.dtype) for name in names
            }

        def core_of(cut_output, bounds):
            top, bottom, left, right = (bounds[i] // stride for i in range(4))
            return cut_output[:, top:bottom, left:right]

        def front_part(crop, bounds, origin, targets, rows):
            features, cut_output = front(crop)
            features.update(empty(back_names, cut_output))
            return self.objective.core_statistics(
                features, crop, bounds, origin, targets, rows
            ), cut_output

        def front_statistics(crop, bounds, origin, targets, rows):
            statistics, cut_output = front_part(crop, bounds, origin, targets, rows)
            return statistics, core_of(cut_output, bounds)

        def back_statistics(cut_output, images, targets, rows):
            features = back(cut_output)
            features.update(empty(front_names, cut_output))
            height, width = ops.shape(images)[1], ops.shape(images)[2]
            bounds = tf.stack([0, height, 0, width])
            return self.objective.core_statistics(
                features, images, bounds, tf.constant([0, 0]), targets, rows
            )

        def front_gradient(crop, bounds, origin, targets, rows, weights, cut_gradient):
            with tf.GradientTape() as tape:
                tape.watch(crop)
                statistics, cut_output = front_part(crop, bounds, origin, targets, rows)
                surrogate = _weighted_sum(tf.nest.flatten(statistics), weights) + ops.sum(
                    ops.cast(core_of(cut_output, bounds), "float32")
                    * ops.cast(cut_gradient, "float32")
                )
            return tape.gradient(surrogate, crop)

        return tuple(
            tf.function(function, reduce_retracing=True)
            for function in (front_statistics, back_statistics, front_gradient)
        )

    def _split_losses(self, images, rows, tape=None):
        """`losses` of a stage that tiles only the layers through a cut (`self.split`):
        the front's statistics and the cut's output tile by tile, the back's statistics from
        the whole image's cut output under a tape, then each tile's gradient through the
        front given the gradient at the cut. The same loss and gradient as an untiled step,
        in less memory: the front's activations (most of VGG-19's, at full resolution) are
        never held for more than one tile, nor at the same time as the back's."""
        cut, plan = self.split
        if cut not in self._front_functions:
            self._front_functions[cut] = self._make_front_functions(cut)
        front_statistics, back_statistics, front_gradient = self._front_functions[cut]
        targets = self.objective.target_tensors()
        stride = vgg19.stride(cut)
        totals, bands, band = None, [], []
        for (crop, bounds, origin), tile in zip(self._tiles(images, plan.tiles), plan.tiles):
            statistics, core = front_statistics(crop, bounds, origin, targets, rows)
            totals = (
                statistics if totals is None else tf.nest.map_structure(tf.add, totals, statistics)
            )
            if band and tile.core[2] == 0:  # the plan lists its tiles row by row
                bands.append(tf.concat(band, axis=2))
                band = []
            band.append(core)
        bands.append(tf.concat(band, axis=2))
        cut_output = tf.concat(bands, axis=1)  # the whole image's, as an untiled pass has it
        del bands, band
        with tf.GradientTape() as keeper:
            keeper.watch(cut_output)
            back = back_statistics(cut_output, images, targets, rows)
        totals = tf.nest.map_structure(tf.add, totals, back)
        result, weights, gradient = self._score_totals(
            totals, images, targets, rows, tape is not None
        )
        if tape is None:
            return result, None
        flat_back = tf.nest.flatten(back)
        cut_gradient = keeper.gradient(
            flat_back,
            cut_output,
            output_gradients=[ops.cast(w, b.dtype) for w, b in zip(weights, flat_back)],
            unconnected_gradients="zero",
        )
        del keeper, back, flat_back  # the back's activations freed before the second pass
        for (crop, bounds, origin), tile in zip(self._tiles(images, plan.tiles), plan.tiles):
            top, bottom, left, right = tile.core
            part_of_cut = cut_gradient[
                :, top // stride : bottom // stride, left // stride : right // stride
            ]
            part = front_gradient(crop, bounds, origin, targets, rows, weights, part_of_cut)
            gradient = _add_crop(gradient, part, tile)
        return result, gradient

    def _kept_statistics(self, crop, bounds, origin, targets, rows):
        """A tile's statistics, keeping the activations after the cut that its gradient
        needs: returns the statistics and `gradient(weights)`, which runs only the front
        again (twice: its features for the back's gradient, then its own gradient)."""
        cut = self.keeping[0]
        if cut not in self._split_functions:
            self._split_functions[cut] = self._make_split_functions(cut)
        front, back, statistics_of, back_weights, front_gradient = self._split_functions[cut]
        front_features, cut_output = front(crop)
        # Only the back runs under the tape, so that it keeps the back's activations and
        # nothing of the front's (whose features are dropped once the statistics are summed).
        with tf.GradientTape() as keeper:
            keeper.watch(cut_output)
            back_features = back(cut_output)
        statistics = statistics_of(
            front_features, back_features, crop, bounds, origin, targets, rows
        )

        def gradient(weights):
            feature_weights = back_weights(
                crop, bounds, origin, targets, rows, back_features, weights
            )
            cut_gradient = keeper.gradient(
                back_features,
                cut_output,
                output_gradients=feature_weights,
                unconnected_gradients="zero",
            )
            return front_gradient(
                crop, bounds, origin, targets, rows, back_features, weights, cut_gradient
            )

        return statistics, gradient

    def _tiles(self, images, tiles):
        """(crop, bounds in the crop, core origin in the image) of each of `tiles`."""
        for tile in tiles:
            top, bottom, left, right = tile.crop
            crop = images[:, top:bottom, left:right]
            bounds = tf.constant(
                [tile.core[0] - top, tile.core[1] - top, tile.core[2] - left, tile.core[3] - left]
            )
            yield crop, bounds, tf.constant([tile.core[0], tile.core[2]])

    def losses(self, images, rows, tape=None):
        """Losses of `images` summed tile by tile; with `tape`, also the gradient of the
        summed loss with respect to `images` (each tile against the whole's statistics).

        Under a strategy the tiles are dealt round-robin to the replicas: each sums its tiles'
        statistics, an all-reduce makes them the whole image's on every replica, and each
        returns the gradient of its own tiles (the optimizer's all-reduce adds them up).
        """
        if self.split is not None:
            return self._split_losses(images, rows, tape)
        if self._tile_functions is None:
            self._tile_functions = self._make_tile_functions()
        statistics_of, gradient_of, last_of = self._tile_functions
        targets = self.objective.target_tensors()
        replica, replicas = replica_share()
        mine = self.plan.tiles[replica::replicas]
        # A replica without a tile (more replicas than tiles) adds zeros of the right shape.
        share = 1.0 if mine else 0.0
        mine = mine or self.plan.tiles[:1]
        # One device: the last tile's forward pass also gives its gradient (`last`); across
        # replicas the statistics are all-reduced between the passes, so every tile is run
        # again in the second.
        fused = tape is not None and replicas == 1
        first = mine[:-1] if fused else mine
        # The first tiles of the pass keep their deeper activations for the second pass, as
        # many as the memory allows (`memory.keep_plan`); the others are run again whole.
        if tape is not None and self.keeping is None:
            self.keeping = self.keep_plan(len(first))
        kept = [] if tape is None else [None] * min(self.keeping[1], len(first))
        totals = None
        for index, (crop, bounds, origin) in enumerate(self._tiles(images, first)):
            if index < len(kept):
                statistics, kept[index] = self._kept_statistics(crop, bounds, origin, targets, rows)
            else:
                statistics = statistics_of(crop, bounds, origin, targets, rows)
            totals = (
                statistics if totals is None else tf.nest.map_structure(tf.add, totals, statistics)
            )
        if fused:
            crop, bounds, origin = next(self._tiles(images, mine[-1:]))
            result, weights, part, gradient = last_of(
                crop, bounds, origin, targets, rows, totals, images
            )
            gradient = _add_crop(gradient, part, mine[-1])
        else:
            if replicas > 1:
                totals = tf.nest.map_structure(lambda t: t * share, totals)
                totals = tf.distribute.get_replica_context().all_reduce(
                    tf.distribute.ReduceOp.SUM, totals
                )
            result, weights, gradient = self._score_totals(
                totals, images, targets, rows, tape is not None
            )
            if tape is None:
                return result, None
            # The whole-image terms' gradient: every replica computed it, the first one adds it.
            if replica > 0:
                gradient = tf.zeros_like(gradient)
        for index, ((crop, bounds, origin), tile) in enumerate(
            zip(self._tiles(images, first), first)
        ):
            if index < len(kept):
                part, kept[index] = kept[index](weights), None  # the kept activations freed
            else:
                part = gradient_of(crop, bounds, origin, targets, rows, weights)
            gradient = _add_crop(gradient, part * share, tile)
        return result, gradient

    def _score_totals(self, totals, images, targets, rows, gradients=True):
        """`(losses, weights, gradient)` from a tiled step's summed statistics: the whole
        image's losses, the loss gradient with respect to each statistic (what each tile's
        gradient is taken against) and with respect to `images` (the terms without layers);
        without `gradients`, `(losses, None, None)`."""
        if not gradients:
            return self._score(totals, images, targets, rows)[0], None, None
        flat_totals = tf.nest.flatten(totals)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(flat_totals)
            tape.watch(images)
            result, summed = self._score(
                tf.nest.pack_sequence_as(totals, flat_totals), images, targets, rows
            )
        weights = tape.gradient(summed, flat_totals, unconnected_gradients="zero")
        return result, weights, tape.gradient(summed, images, unconnected_gradients="zero")

    def _score(self, totals, images, targets, rows):
        """`(losses, their sum)` of the whole image from its terms' summed statistics."""
        result = self.objective.score(images, targets, rows, totals=totals)
        return result, ops.sum(result["loss"])
