"""StyleTransferModel: a Keras model whose only trainable variable is the image being painted."""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_nst import canvas, distribute, memory, vgg19
from keras_nst import optimizers as optimizers_lib
from keras_nst.choices import check_pooling, check_precision
from keras_nst.extractor import vgg19_extractor
from keras_nst.images import to_uint8
from keras_nst.precision import resolve_precision
from keras_nst.task import StyleTask
from keras_nst.terms import default_terms, zeros
from keras_nst.tiles import TilePlan

#: Steps of one epoch when `fit` is called without `steps_per_epoch`.
DEFAULT_STEPS_PER_EPOCH = 100


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


def _weighted_sum(flat, weights):
    """`Σ statistic · weight` over a tile's flattened statistics, in float32: its gradient is
    the tile's part of the whole image's loss gradient."""
    return tf.add_n([ops.sum(ops.cast(s, "float32") * w) for s, w in zip(flat, weights)])


def _add_crop(gradient, part, tile):
    """`gradient` (the whole image's) plus a tile's crop's gradient `part`, in its place."""
    height, width = int(gradient.shape[1]), int(gradient.shape[2])
    top, bottom, left, right = tile.crop
    return gradient + tf.pad(part, [[0, 0], [top, height - bottom], [left, width - right], [0, 0]])


@keras.saving.register_keras_serializable(package="keras_nst")
class PixelRange(keras.constraints.Constraint):
    """Keeps pixels in [0, 255] after every optimizer update.

    Gatys et al. optimise unconstrained; clipping keeps the image displayable and the
    optimiser from wandering into colours no picture has (a projected-gradient step).
    """

    def __call__(self, w):
        return ops.clip(w, 0.0, 255.0)


class _State:
    """Variables that change with each stage (targets), kept out of Keras' automatic
    tracking so that replacing them never leaves stale copies in `model.weights`."""

    def __init__(self):
        self.targets: list[list] = []


@keras.saving.register_keras_serializable(package="keras_nst")
class StyleTransferModel(keras.Model):
    """Paints `task.num_variants` images by gradient descent on a sum of loss terms.

    The image, shape `(num_variants, H, W, 3)` RGB in [0, 255], is the model's only trainable
    variable; the VGG-19 extractor is frozen. The loss is the sum of `terms` (by default
    Gatys et al.'s content and Gram style losses, and a total variation term); their targets
    are computed once per task, here or in `set_task`, and kept as non-trainable variables.
    `train_step` computes every variant's weighted losses, applies the compiled optimizer and
    clips pixels to [0, 255].

    Logged losses are weighted and summed over variants: `loss = content_loss + style_loss
    (+ total_variation_loss)`, with `content_loss = alpha * sum_l w_l L_content(l)` and
    `style_loss = beta * sum_l w_l E_l`, and `style_loss/<layer>` is each layer's
    `beta * w_l * E_l`. They are the values at the step just taken (not running means), so
    `History` holds each epoch's last step.

    The canvas can change: `set_task(task.at_size(...))` resizes the painting in float (no
    8-bit round trip), recomputes the targets with the same extractor, and carries the
    optimizer's state over (Adam's moments resized with the image). A schedule
    (`keras_nst.schedule`) does this between stages of one `fit`.

    Args:
        task: a `StyleTask`.
        weights: VGG-19 weights: `"imagenet"`, a weight file path, or `None` (He-normal random
            weights seeded by `task.seed`). See `vgg19_extractor`.
        pooling: `"avg"` (Gatys et al.) or `"max"` (VGG-19 as trained).
        precision: arithmetic of the VGG-19 passes: `"mixed_bfloat16"` (float32 weights,
            bfloat16 compute), `"float32"`, or `"auto"`: bfloat16 where the hardware computes
            it natively (CPUs with AVX512-BF16 or AMX, GPUs of compute capability 8.0 and
            up), float32 elsewhere. The image, the targets, Grams and losses are float32
            whatever the choice; targets are computed in the same precision as the steps.
        extractor: a ready extractor to use (and share) instead of building VGG-19: any
            `keras.Model` mapping `(B, H, W, 3)` RGB images in [0, 255] to a dict of the
            layers the terms read (tests pass a tiny stand-in).
        terms: the loss terms (`keras_nst.terms`); default `default_terms(task)`.
        padding: padding of VGG-19's first convolution, `"replicate"` or `"zeros"` (see
            `vgg19_extractor`).
        tile: the most pixels along a side that go through VGG-19 at once: an image whose
            longest side exceeds it is painted tile by tile, each tile's crop (its core and
            a halo as wide as the deepest layer's receptive radius) at most this large
            (`None` or `0`: never). Each step sums the tiles' layer statistics, then takes
            each tile's gradient against the whole image's statistics: the same loss and
            gradient as an untiled step up to float rounding, in the memory of one tile
            (`keras_nst.tiles`). Steps then run eagerly, one compiled function per pass.
            Where the memory allows, the first pass keeps, for the tiles it runs again, the
            activations after an early pooling layer, and the second pass runs only the
            layers before it again (`memory.keep_plan`).
        tile_cut: where a tiled stage may tile only VGG-19's first layers: `"auto"` (tile
            only the layers through pool1, pool2 or pool3 where that fits in the memory of
            tiles of `tile` px and costs less, `memory.split_plan`), a pooling layer's name
            (always that cut, the front's crops `tile` px) or `None` (tile every layer).
            The front's activations are most of VGG-19's and its halo is small (12 px at
            pool2 against 96 px at conv5_1); the layers after the cut run on the whole
            image's cut output (`_split_losses`). One device only: under a strategy the
            replicas share the tiles of every layer.
        max_memory: bytes a tiled step may use, for keeping activations between its passes
            (default: the host memory available when a size's first tiled step starts; on
            GPUs nothing is kept unless it is given).
        average: decay of a running average of the image, updated after every step,
            bias-corrected, restarted at each stage of a schedule; `images()` gives it, and
            the next stage starts from it. It removes the optimiser's pixel jitter (the
            iterate averaging of Polyak and Juditsky). `0` turns it off.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Example:

    >>> model = StyleTransferModel(task, weights=None)
    >>> model.compile(optimizer=keras.optimizers.Adam(learning_rate=10.0))
    >>> history = model.fit(task, epochs=2, steps_per_epoch=50)
    >>> keras_nst.save_image("out.png", model.images()[0])
    """

    def __init__(
        self,
        task: StyleTask,
        *,
        weights="imagenet",
        pooling: str = "avg",
        precision: str = "auto",
        extractor: keras.Model | None = None,
        terms=None,
        padding: str = "replicate",
        average: float = 0.99,
        tile: int | None = None,
        tile_cut: str | None = "auto",
        max_memory: int | None = None,
        **kwargs,
    ):
        if not isinstance(task, StyleTask):
            raise ValueError(
                f"`task` must be a keras_nst.StyleTask. Received: task={type(task).__name__}"
            )
        check_pooling(pooling)
        check_precision(precision)
        from keras_nst import settings as settings_lib

        padding = settings_lib.BY_NAME["padding"].check(padding, "padding")
        average = settings_lib.BY_NAME["average"].check(average, "average")
        tile = settings_lib.BY_NAME["tile"].check(tile, "tile")
        max_memory = settings_lib.BY_NAME["max_memory"].check(max_memory, "max_memory")
        tile_cut = settings_lib.BY_NAME["tile_cut"].check(tile_cut, "tile_cut")
        super().__init__(**kwargs)

        # === Config ===
        self.task = task
        self._built_task = task
        self.pooling = pooling
        self.padding = padding
        self.average = average
        self.tile = tile or None
        self.plan = None  # the current stage's TilePlan, when it is tiled
        self.tile_cut = tile_cut
        self.split = None  # the current stage's (cut, TilePlan) when it tiles only the front
        self._front_functions = {}  # cut -> the compiled pieces of `_split_losses`
        self.max_memory = max_memory
        self._tile_functions = None
        self._split_functions = {}  # cut -> the compiled halves of a kept tile's passes
        self._compiled_features = None  # the targets' features of a tiled image
        self._keeping = None  # this stage's (cut, count) of kept tiles, planned at its first step
        self.requested_precision = precision
        self.precision = resolve_precision(precision)
        self.weights_source = weights  # `weights` is Keras' list of variables
        self.terms = list(terms) if terms is not None else default_terms(task)
        self._custom_parts = extractor is not None or terms is not None
        self._own_extractor = extractor is None
        self._state = _State()
        self.image = None
        self.image_average = None  # the running average of the image (with `average` > 0)
        self.image_average_weight = None  # 1 - decay^steps: the average's bias correction

        # === Layers ===
        if extractor is None and not self.tile:
            # Refuse, with the largest size that fits, before building anything.
            memory.check_fits(task, precision=self.precision)
        if extractor is None:
            extractor = vgg19_extractor(
                self.layer_names,
                pooling=pooling,
                weights=weights,
                seed=task.seed,
                dtype=self.precision,
                padding=padding,
            )
        self.extractor = extractor

        # === Targets and the image ===
        self.set_task(task)
        self.built = True

    @property
    def layer_names(self) -> list[str]:
        """Every layer any term reads, in network order."""
        from keras_nst import vgg19

        names = {name for term in self.terms for name in term.layers}
        return sorted(names, key=vgg19.layer_index)

    # Kept for code that read them before loss terms existed.
    @property
    def content_layer_names(self) -> list[str]:
        return self.task.content_layer_names

    @property
    def style_layer_names(self) -> list[str]:
        return self.task.style_layer_names

    @property
    def targets(self) -> list[list]:
        """Each term's target variables (one list per term, one variable per layer)."""
        return self._state.targets

    # === The canvas ===

    def _variable(self, value, name, trainable=False, constraint=None, written=False):
        value = ops.convert_to_tensor(value, "float32")
        return self.add_weight(
            shape=tuple(value.shape),
            initializer=lambda shape, dtype: ops.cast(value, dtype),
            dtype="float32",
            trainable=trainable,
            constraint=constraint,
            # Under a distribution strategy, every replica holds the same values; reading and
            # writing the first replica's copy keeps runs identical to one device.
            aggregation="only_first_replica" if trainable or written else "none",
            name=name,
        )

    def set_task(
        self,
        task: StyleTask,
        images=None,
        carry=None,
        keep_average=False,
        optimizer=None,
        tile=None,
    ) -> None:
        """Paints `task` from now on: its targets, and the canvas at its size.

        A task of the canvas' shape, untiled, with the optimizer carried over (a video's next
        frame) keeps the variables and assigns them anew, so the step compiled for them goes
        on without tracing again; any other makes new ones.

        Args:
            task: the task (typically `model.task.at_size(...)`: the same images and
                settings at another size).
            images: float `(num_variants, H, W, 3)` to paint from; by default the current
                painting resized to the task's size (float, bicubic), or the task's initial
                images when there is none yet.
            carry: how the optimizer's per-pixel slots move to the new canvas,
                `carry(values, size, method, clip)` (default `canvas.resize`; a video moves
                them along the optical flow).
            keep_average: whether the running average of the image goes on (moved with
                `carry`; the canvas must keep its size) instead of restarting: `True`, or a
                float array `(H, W)` in [0, 1] of how much of its history each pixel keeps
                (0 restarts that pixel). A video's next frame goes on averaging where the
                last one was, except where the frame shows something new.
            optimizer: an optimizer to paint with from now on instead of carrying the
                current one over: a copy of it (from its config) is made under the model's
                distribution strategy and built here, its step count (`iterations`) set to
                the current one's, its state empty (see `keras_nst.optimizers.starting_at`).
            tile: the model's `tile` from now on (0: paint whole; a painting's stages each
                have their own, `keras_nst.painting.stage_tiles`); by default it stays.
        """
        # Checked before anything changes: a refused call leaves the painting as it was.
        if tile is not None:
            from keras_nst import settings as settings_lib

            tile = settings_lib.BY_NAME["tile"].check(tile, "tile")
        keep = None
        if keep_average is not False and self.image_average is not None:
            keep = self._checked_keep(
                keep_average,
                tuple(self.image_average.shape),
                (task.num_variants, task.height, task.width, 3),
            )
        carry = carry or canvas.resize
        shape = (task.num_variants, task.height, task.width, 3)
        with self.distribute_strategy.scope():
            if images is None:
                # The next stage starts from the average, where there is one: it is the
                # better picture (the optimiser's last steps jitter around it).
                images = (
                    task.initial_images()
                    if self.image is None
                    else canvas.resize(ops.convert_to_tensor(self.painted()), shape[1:3])
                )
            if tile is not None:
                self.tile = tile or None
            targets = self._same_step_targets(task, optimizer)
            if targets is not None:
                self._repaint(task, targets, images, carry, keep)
                return
            self.task = task
            self.plan = self._plan_for(task.height, task.width)
            self.split = self._split_for(task)
            self._keeping = None
            # Tiled steps call one compiled function per tile and pass: the step itself
            # runs eagerly.
            self.run_eagerly = self.plan is not None or getattr(self, "_eager_by_user", False)
            for variables in self._state.targets:
                for variable in variables:
                    self._untrack_variable(variable)
            extract = self._extract
            self._state.targets = []
            for term in self.terms:
                values = term.targets(task, extract)
                names = term.target_names() or [str(i) for i in range(len(values))]
                if len(values) != len(names):
                    raise ValueError(
                        f"Loss term {type(term).__name__} gave {len(values)} targets for "
                        f"{len(names)} target names."
                    )
                self._state.targets.append(
                    [
                        self._variable(value, f"{term.key.replace('_loss', '')}_target_{name}")
                        for value, name in zip(values, names)
                    ]
                )
            old_average = (self.image_average, self.image_average_weight)
            self._set_image(images, carry, optimizer)
            self._set_average()
            if keep is not None:
                self._keep_average(old_average, keep, carry, shape)
        for function in ("train_function", "test_function", "predict_function"):
            if getattr(self, function, None) is not None:
                setattr(self, function, None)
        if getattr(self, "_fitting", False):  # fit looks its step function up every step
            self.make_train_function(force=True)

    def _same_step_targets(self, task: StyleTask, optimizer) -> list | None:
        """`task`'s target values when the compiled step can paint it as it is, with its
        variables assigned anew (a video's next frame: the same size and settings), else `None`.

        The step reads the variables, whatever values they hold; what it took in as Python
        values when traced must stay: the canvas' shape, untiled, the terms' targets' shapes,
        the colour mode, the optimizer (carried over in place, so not one that restarts).
        """
        old = self.task
        if (
            self.image is None
            or optimizer is not None
            or getattr(self, "optimizer", None) is None
            or not self.optimizer.built
            or optimizers_lib.restarts_each_stage(self.optimizer)
            or self.plan is not None
            or self._plan_for(task.height, task.width) is not None
            or tuple(self.image.shape) != (task.num_variants, task.height, task.width, 3)
            or getattr(task, "preserve_color", None) != getattr(old, "preserve_color", None)
        ):
            return None
        targets = [term.targets(task, self._extract) for term in self.terms]
        for values, variables in zip(targets, self._state.targets):
            if len(values) != len(variables) or any(
                tuple(ops.shape(value)) != tuple(variable.shape)
                for value, variable in zip(values, variables)
            ):
                return None
        return targets

    def _repaint(self, task: StyleTask, targets: list, images, carry, keep) -> None:
        """`set_task` without new variables: assigns the targets, the image, the optimizer's
        per-pixel slots (moved with `carry`) and the running average, so that the step fit
        compiled goes on without tracing again."""
        self.task = task
        for values, variables in zip(targets, self._state.targets):
            for value, variable in zip(values, variables):
                variable.assign(ops.cast(ops.convert_to_tensor(value), "float32"))
        shape = tuple(self.image.shape)
        old_average = None  # (a copy: the variables are about to be reset)
        if self.image_average is not None:
            old_average = tuple(
                np.array(ops.convert_to_numpy(v))
                for v in (self.image_average, self.image_average_weight)
            )
        self.image.assign(ops.convert_to_tensor(images, "float32"))
        optimizers_lib.carry_in_place(self.optimizer, self.image, carry)
        if self.image_average is not None:
            self.image_average.assign(ops.zeros_like(self.image_average))
            self.image_average_weight.assign(ops.zeros_like(self.image_average_weight))
            if keep is not None:
                self._keep_average(old_average, keep, carry, shape)

    def _set_image(self, images, carry=canvas.resize, new_optimizer=None) -> None:
        old = self.image
        if old is not None:
            self._untrack_variable(old)
        self.image = self._variable(images, "image", trainable=True, constraint=PixelRange())
        optimizer = getattr(self, "optimizer", None)
        if new_optimizer is not None:
            # Made anew here: an optimizer's variables belong to the strategy it was made
            # under, and the caller (a callback) runs outside the model's.
            new_optimizer = type(new_optimizer).from_config(new_optimizer.get_config())
            new_optimizer.build([self.image])
            if optimizer is not None:
                new_optimizer.iterations.assign(optimizer.iterations)
            self.optimizer = new_optimizer
        elif old is not None and optimizer is not None and optimizer.built:
            self.optimizer = optimizers_lib.carried_over(optimizer, self.image, carry)

    @staticmethod
    def _checked_keep(keep, old_shape, shape) -> np.ndarray:
        """`set_task`'s `keep_average` as a float32 `(H, W)` array, or a ValueError."""
        if old_shape != shape:
            raise ValueError(
                f"`keep_average` needs the canvas to keep its size {old_shape}. "
                f"Received: a task of shape {shape}"
            )
        if keep is True:
            return np.ones(shape[1:3], "float32")
        keep = np.asarray(keep, "float32")
        if keep.shape != shape[1:3] or not np.all((keep >= 0) & (keep <= 1)):
            raise ValueError(
                f"`keep_average` must be True or an array of shape {shape[1:3]} with values in "
                f"[0, 1]. Received: an array of shape {keep.shape} with values from "
                f"{keep.min() if keep.size else 'none'} to {keep.max() if keep.size else 'none'}"
            )
        return keep

    def _keep_average(self, old_average, keep, carry, shape) -> None:
        average, weight = old_average
        # The average's sum and its weight move (and fade) together, so that their ratio at
        # a kept pixel is the moved average.
        moved = carry(ops.concatenate([average, weight], axis=-1), shape[1:3], "bilinear", None)
        moved = ops.convert_to_tensor(moved) * keep[None, :, :, None]
        self.image_average.assign(moved[..., :3])
        self.image_average_weight.assign(moved[..., 3:])

    def _set_average(self) -> None:
        """A fresh running average for the current canvas (restarted at each stage)."""
        for variable in (self.image_average, self.image_average_weight):
            if variable is not None:
                self._untrack_variable(variable)
        if not self.average:
            self.image_average = self.image_average_weight = None
            return
        # Written by the step (from the first replica's values, like the image).
        self.image_average = self._variable(
            ops.zeros_like(self.image), "image_average", written=True
        )
        # Per pixel: a video restarts the average where a frame shows something new.
        self.image_average_weight = self._variable(
            ops.zeros_like(self.image[..., :1]), "image_average_weight", written=True
        )

    def _update_average(self) -> None:
        decay = self.average
        self.image_average.assign(decay * self.image_average + (1.0 - decay) * self.image)
        self.image_average_weight.assign(decay * self.image_average_weight + (1.0 - decay))

    def painted(self):
        """The painting so far, float `(num_variants, H, W, 3)`: the bias-corrected running
        average of the image where there is one (`average` > 0 and a step taken), else the
        image itself."""
        image = ops.convert_to_tensor(self.image)
        if self.image_average is None:
            return image
        weight = ops.convert_to_tensor(self.image_average_weight)
        average = ops.convert_to_tensor(self.image_average) / ops.maximum(weight, 1e-12)
        return ops.where(weight > 0.0, average, image)

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The painting's own state, for checkpoints: the image, and the average if any."""
        arrays = {"image": ops.convert_to_numpy(self.image)}
        if self.image_average is not None:
            arrays["average"] = ops.convert_to_numpy(self.image_average)
            arrays["average_weight"] = np.asarray(ops.convert_to_numpy(self.image_average_weight))
        return arrays

    def assign_state_arrays(self, arrays: dict) -> None:
        """Puts back what `state_arrays` gave."""
        self.image.assign(arrays["image"])
        if self.image_average is not None and "average" in arrays:
            self.image_average.assign(arrays["average"])
            # (Checkpoints before the per-pixel weight hold one number.)
            weight = np.broadcast_to(
                arrays["average_weight"], tuple(self.image_average_weight.shape)
            )
            self.image_average_weight.assign(weight)

    # === Tiles ===

    def _plan_for(self, height: int, width: int) -> TilePlan | None:
        """The tile plan of a `height x width` image, or `None` when it is painted whole."""
        if not self.tile or max(height, width) <= self.tile:
            return None
        plan = TilePlan.for_image(
            height, width, crop=self.tile, deepest=vgg19.deepest(self.layer_names)
        )
        return plan if plan.tiled else None

    def _split_for(self, task: StyleTask):
        """`(cut, plan)` of a tiled stage that tiles only VGG-19's layers through `cut`
        (`tile_cut`), or `None` when every layer is tiled (`self.plan`)."""
        if self.plan is None or self.tile_cut is None or not self._own_extractor:
            return None
        if self.distribute_strategy.num_replicas_in_sync > 1:
            return None  # replicas share the tiles of `self.plan`
        deepest = vgg19.deepest(self.layer_names)
        if self.tile_cut == "auto":
            # The optimizer's copies of the image count in both estimates alike: Adam's.
            choice = memory.split_plan(task, self.tile, precision=self.precision)
            if choice is None:
                return None
            cut, crop = choice
        else:
            if vgg19.layer_index(self.tile_cut) >= vgg19.layer_index(deepest):
                raise ValueError(
                    f"`tile_cut` must come before the deepest layer used ({deepest}). "
                    f"Received: tile_cut={self.tile_cut!r}"
                )
            cut, crop = self.tile_cut, self.tile
        return cut, TilePlan.for_image(task.height, task.width, crop=crop, deepest=cut)

    def _extract(self, images):
        """Features for targets: whole, or (for an image that needs tiles) tile by tile."""
        images = ops.convert_to_tensor(images)
        plan = self._plan_for(int(images.shape[1]), int(images.shape[2]))
        if plan is None:
            return self._features(images)
        # Compiled: a graph frees each activation once used, where an eager call of the
        # extractor holds them all (at 4096 px the targets then needed more than the steps).
        if self._compiled_features is None:
            self._compiled_features = tf.function(self._features, reduce_retracing=True)
        return TiledFeatures(self._compiled_features, images, plan)

    def _tile_statistics(self, features, crop, bounds, origin, targets, rows) -> list:
        """Each layered term's additive statistics over one tile's core."""
        top, bottom, left, right = (bounds[i] for i in range(4))
        core = {}
        for name, value in features.items():
            stride = vgg19.stride(name)
            core[name] = value[
                :, top // stride : bottom // stride, left // stride : right // stride
            ]
        images = crop[:, top:bottom, left:right]
        statistics = []
        for term, term_targets in zip(self.terms, targets):
            if not term.layers:
                statistics.append([])
                continue
            if term.spatial:
                cropped = []
                for name, target in zip(term.layers, term_targets):
                    stride = vgg19.stride(name)
                    y, x = origin[0] // stride, origin[1] // stride
                    # The core's own shape: empty for a layer this part of the step does not
                    # compute (`_split_losses`).
                    height, width = ops.shape(core[name])[1], ops.shape(core[name])[2]
                    cropped.append(target[:, y : y + height, x : x + width])
                term_targets = cropped
            statistics.append(term.statistics(core, images, term_targets, rows))
        return statistics

    def _make_tile_functions(self):
        def statistics(crop, bounds, origin, targets, rows):
            return self._tile_statistics(self._features(crop), crop, bounds, origin, targets, rows)

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

    def _split_chains(self, cut):
        """VGG-19 split after `cut`: `front(images) -> (features, cut output)` (the features
        of the used layers through `cut`) and `back(cut output) -> features` (those after)."""
        layers = [
            layer
            for layer in self.extractor.layers
            if not isinstance(layer, keras.layers.InputLayer)
        ]
        split = [layer.name for layer in layers].index(cut) + 1
        front_layers, back_layers = layers[:split], layers[split:]
        names = set(self.layer_names)

        def frozen(layer, x):
            # A convolution with its weights held constant: a tape around `back` would
            # otherwise differentiate the frozen filters too, as costly as the input's gradient.
            relu = getattr(layer, "activation", None) is keras.activations.relu
            if not (isinstance(layer, keras.layers.Conv2D) and layer.padding == "same" and relu):
                return layer(x)
            dtype = layer.compute_dtype
            kernel = tf.stop_gradient(tf.cast(layer.kernel, dtype))
            x = tf.nn.conv2d(tf.cast(x, dtype), kernel, strides=1, padding="SAME")
            return tf.nn.relu(tf.nn.bias_add(x, tf.stop_gradient(tf.cast(layer.bias, dtype))))

        def run(chain, x):
            features = {}
            for layer in chain:
                x = frozen(layer, x)
                if layer.name in names:
                    features[layer.name] = x
            return features, x

        def front(crop):
            return run(front_layers, self._seen(crop))

        def back(cut_output):
            return run(back_layers, cut_output)[0]

        return front, back

    def _make_split_functions(self, cut):
        """Compiled pieces of the passes of a tile whose activations after `cut` are kept
        from the statistics pass to the gradient pass (VGG-19 split after `cut`): `front`
        (the front layers' features and the cut's output), `back` (the back layers'
        features, run under a tape that keeps its activations), `statistics` (the tile's,
        from both), `back_weights` (the loss gradient at the back's features) and
        `front_gradient` (the crop's gradient through the front, given the cut's)."""
        front, back = self._split_chains(cut)

        def statistics(front_features, back_features, crop, bounds, origin, targets, rows):
            return self._tile_statistics(
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
        front, back = self._split_chains(cut)
        stride = vgg19.stride(cut)
        front_names = [
            name for name in self.layer_names if vgg19.layer_index(name) <= vgg19.layer_index(cut)
        ]
        back_names = [name for name in self.layer_names if name not in front_names]

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
            return self._tile_statistics(features, crop, bounds, origin, targets, rows), cut_output

        def front_statistics(crop, bounds, origin, targets, rows):
            statistics, cut_output = front_part(crop, bounds, origin, targets, rows)
            return statistics, core_of(cut_output, bounds)

        def back_statistics(cut_output, images, targets, rows):
            features = back(cut_output)
            features.update(empty(front_names, cut_output))
            height, width = ops.shape(images)[1], ops.shape(images)[2]
            bounds = tf.stack([0, height, 0, width])
            return self._tile_statistics(
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
        """`_tiled_losses` of a stage that tiles only the layers through a cut (`self.split`):
        the front's statistics and the cut's output tile by tile, the back's statistics from
        the whole image's cut output under a tape, then each tile's gradient through the
        front given the gradient at the cut. The same loss and gradient as an untiled step,
        in less memory: the front's activations (most of VGG-19's, at full resolution) are
        never held for more than one tile, nor at the same time as the back's."""
        cut, plan = self.split
        if cut not in self._front_functions:
            self._front_functions[cut] = self._make_front_functions(cut)
        front_statistics, back_statistics, front_gradient = self._front_functions[cut]
        targets = [[ops.convert_to_tensor(t) for t in ts] for ts in self._state.targets]
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
        cut = self._keeping[0]
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

    @staticmethod
    def _replica_share() -> tuple[int, int]:
        """(this replica's index, the number of replicas) among which the tiles are shared;
        `(0, 1)` outside a strategy's replica function."""
        context = tf.distribute.get_replica_context()
        replicas = 1 if context is None else context.num_replicas_in_sync
        if replicas == 1:
            return 0, 1
        return int(tf.get_static_value(context.replica_id_in_sync_group)), replicas

    def _tiled_losses(self, images, rows, tape=None):
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
        targets = [[ops.convert_to_tensor(t) for t in ts] for ts in self._state.targets]
        replica, replicas = self._replica_share()
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
        if tape is not None and self._keeping is None:
            self._keeping = self._keep_plan(len(first))
        kept = [] if tape is None else [None] * min(self._keeping[1], len(first))
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

    def _keep_plan(self, tiles: int) -> tuple[str | None, int]:
        """`(cut, count)` of `memory.keep_plan` for this stage: VGG-19 built here (a given
        extractor is not split), the compiled optimizer, `max_memory` or what is available."""
        if not self._own_extractor:
            return None, 0
        if self.max_memory is None and tf.config.list_logical_devices("GPU"):
            # What is available is the host's memory, not an accelerator's: keep nothing
            # unless told how much the device may use.
            return None, 0
        name = optimizers_lib.name_of(getattr(self, "optimizer", None))
        return memory.keep_plan(
            self.task,
            self.tile,
            tiles,
            optimizer=name,
            precision=self.precision,
            available=self.max_memory,
        )

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
        """`(losses, their sum)` of the whole image from its terms' summed statistics (terms
        without layers, such as total variation, score `images` directly)."""
        result, total = {}, zeros(rows)
        for term, term_targets, term_totals in zip(self.terms, targets, totals):
            if term.layers:
                value, parts = term.score(list(term_totals), term_targets, rows)
            else:
                value, parts = term(None, images, term_targets, rows)
            result.update(parts)
            result[term.key] = value
            total = total + value
        result["loss"] = total
        return result, ops.sum(total)

    def _tiled_images(self, rows):
        """The rows a tiled step paints, and their images: under a strategy every replica
        takes every row (its share of each image is its tiles), whatever rows the data dealt
        it."""
        if self._replica_share()[1] > 1:
            rows = ops.arange(self.task.num_variants)
        return rows, tf.convert_to_tensor(tf.gather(self.image, rows))

    def _shared_logs(self, per_variant: dict) -> dict:
        """Logs of a tiled step: every replica holds the whole losses, so only the first
        reports them to the all-reduce that sums the replicas' logs."""
        if self._replica_share()[0] > 0:
            per_variant = {key: tf.zeros_like(value) for key, value in per_variant.items()}
        return distribute.total_logs(self._logs(per_variant), self.distribute_strategy)

    def _tiled_train_step(self, rows):
        rows, images = self._tiled_images(rows)
        per_variant, gradient = self._tiled_losses(images, rows, tape=True)
        full = tf.scatter_nd(rows[:, None], gradient, tf.shape(self.image))
        self.optimizer.apply([full], [self.image])
        if self.image_average is not None:
            self._update_average()
        return self._shared_logs(per_variant)

    # === Losses ===

    def _features(self, images):
        """The extractor's features of `images` (as `_seen`)."""
        return self.extractor(self._seen(images))

    def _seen(self, images):
        """What the network sees of `images`: with `preserve_color="luminance"` their
        luminance only (grey in all three channels)."""
        if getattr(self.task, "preserve_color", None) == "luminance":
            from keras_nst.colour import LUMA

            luma = ops.sum(
                ops.cast(images, "float32") * ops.convert_to_tensor(LUMA), axis=-1, keepdims=True
            )
            images = ops.concatenate([luma, luma, luma], axis=-1)
        return images

    def compute_losses(self, images, rows=None) -> dict:
        """Weighted losses of `images`, the rows `rows` of the variant image.

        Args:
            images: `(k, H, W, 3)` images in [0, 255].
            rows: `(k,)` variant indices of `images`; `None` means all variants in order.

        Returns:
            dict of `(k,)` tensors: `loss`, each term's total (`content_loss`, `style_loss`,
            `total_variation_loss`) and parts (`style_loss/<layer>`: each layer's
            `beta * w_l * E_l`).
        """
        if rows is None:
            rows = ops.arange(self.task.num_variants)
        if self.plan is not None and tuple(images.shape[1:3]) == (
            self.plan.height,
            self.plan.width,
        ):
            return self._tiled_losses(tf.convert_to_tensor(images), tf.convert_to_tensor(rows))[0]
        features = self._features(images)
        result = {}
        total = zeros(rows)
        for term, targets in zip(self.terms, self._state.targets):
            value, parts = term(features, images, [ops.convert_to_tensor(t) for t in targets], rows)
            result.update(parts)
            result[term.key] = value
            total = total + value
        result["loss"] = total
        return result

    @property
    def _loss_keys(self) -> list[str]:
        keys = ["loss"]
        for term in self.terms:
            keys += [term.key, *term.part_keys()]
        return keys

    def _logs(self, per_variant: dict) -> dict:
        keys = ["loss"]
        keys += [t.key for t in self.terms if t.logged_unweighted or t.weights.any()]
        keys += [key for t in self.terms for key in t.part_keys()]
        return {key: ops.sum(per_variant[key]) for key in keys}

    def _losses_of_rows(self, rows) -> dict:
        """`compute_losses` of the image rows `rows`; a replica with no rows does no work."""
        return distribute.unless_idle(
            rows,
            lambda: self.compute_losses(ops.take(self.image, rows, axis=0), rows),
            self._loss_keys,
        )

    def _local_rows(self, data):
        return distribute.local_rows(
            data, self.task.num_variants, self.distribute_strategy.num_replicas_in_sync
        )

    def train_step(self, data):
        rows = self._local_rows(data)
        if self.plan is not None:
            return self._tiled_train_step(rows)
        with tf.GradientTape() as tape:
            per_variant = self._losses_of_rows(rows)
            # Replicas compute disjoint variants; Keras sums their gradients, which is the
            # gradient of the summed loss.
            total = ops.sum(per_variant["loss"])
        gradients = tape.gradient(total, [self.image])
        # The gradient of a gather is sparse; the optimizers and the all-reduce want it dense.
        # An idle replica's is `None`: it adds zeros to the others'.
        gradients = [
            tf.zeros_like(self.image) if gradient is None else tf.convert_to_tensor(gradient)
            for gradient in gradients
        ]
        self.optimizer.apply(gradients, [self.image])
        if self.image_average is not None:
            self._update_average()
        return distribute.total_logs(self._logs(per_variant), self.distribute_strategy)

    def test_step(self, data):
        rows = self._local_rows(data)
        if self.plan is not None:
            rows, images = self._tiled_images(rows)
            return self._shared_logs(self._tiled_losses(images, rows)[0])
        per_variant = self._losses_of_rows(rows)
        return distribute.total_logs(self._logs(per_variant), self.distribute_strategy)

    @property
    def metrics(self):
        # Logs are the current step's losses, not running means: no metric objects to reset.
        return []

    # === Keras entry points ===

    def compile(self, optimizer=None, *, jit_compile: bool = False, **kwargs):
        """Configures the optimizer.

        Args:
            optimizer: a `keras.optimizers.Optimizer`, a name in
                `keras_nst.choices.OPTIMIZERS` (with a pixel-scale learning rate), or `None`
                for `Adam(learning_rate=10)`.
            jit_compile: XLA stays off by default: it is slower for this step on CPU and fails
                under `MirroredStrategy`.
            **kwargs: passed to `keras.Model.compile`.
        """
        super().compile(optimizer=optimizers_lib.get(optimizer), jit_compile=jit_compile, **kwargs)
        self._eager_by_user = bool(kwargs.get("run_eagerly", False))
        if self.plan is not None:  # a tiled step calls one compiled function per tile and pass
            self.run_eagerly = True
        # Its slots made now, not while the first step is traced (which would trace it twice).
        with self.distribute_strategy.scope():
            self.optimizer.build([self.image])

    def _dataset(self, x):
        if x is not None and x is not self.task and x is not self._built_task:
            raise ValueError(
                "`x` must be the StyleTask this model was built with (or None): the model's "
                f"targets are computed from it. Received: x={x!r}"
            )
        return distribute.row_dataset(
            self.task.num_variants, self.distribute_strategy.num_replicas_in_sync
        )

    def fit(self, x=None, y=None, *args, steps_per_epoch=None, **kwargs):
        """Runs the optimisation: `model.fit(task, epochs=..., steps_per_epoch=...)`.

        `x` is the model's `StyleTask` (or `None`); each step is one optimizer update of the
        image. Without `steps_per_epoch`, an epoch is `DEFAULT_STEPS_PER_EPOCH` steps. Every
        other argument (`epochs`, `callbacks`, `verbose`, `initial_epoch`, ...) is Keras'.
        A first Ctrl-C (SIGINT) or SIGTERM stops the fit after the current step, with every
        callback's `on_train_end` run (a `StyleCheckpoint` saves); a second one aborts.
        The progress bar shows the total, content and style losses; `History` and the
        callbacks' logs also hold each style layer's.
        """
        # The data is a placeholder; shuffling it means nothing (and Keras would warn).
        kwargs.setdefault("shuffle", False)
        # Ctrl-C (or SIGTERM) stops after the current step, so callbacks such as
        # StyleCheckpoint still write at the end; a second one aborts at once.
        from keras_nst.callbacks import StyleProgbarLogger
        from keras_nst.checkpoints import StopOnSignal

        callbacks = list(kwargs.get("callbacks") or [])
        if not any(isinstance(callback, StopOnSignal) for callback in callbacks):
            callbacks.insert(0, StopOnSignal())
        if not any(isinstance(callback, keras.callbacks.ProgbarLogger) for callback in callbacks):
            callbacks.append(StyleProgbarLogger())
        kwargs["callbacks"] = callbacks
        self._fitting = True
        try:
            return super().fit(
                self._dataset(x),
                y,
                *args,
                steps_per_epoch=steps_per_epoch or DEFAULT_STEPS_PER_EPOCH,
                **kwargs,
            )
        finally:
            self._fitting = False

    def evaluate(self, x=None, y=None, *args, steps=None, **kwargs):
        """The current losses (one step, no update): `model.evaluate(task, return_dict=True)`."""
        return super().evaluate(self._dataset(x), y, *args, steps=steps or 1, **kwargs)

    def variant_losses(self) -> dict[str, np.ndarray]:
        """Each variant's current weighted losses, as numpy arrays of shape `(num_variants,)`."""
        return {
            k: ops.convert_to_numpy(v)
            for k, v in self.compute_losses(ops.convert_to_tensor(self.image)).items()
        }

    def images(self) -> np.ndarray:
        """The painted images, `uint8` of shape `(num_variants, H, W, 3)`: the running
        average where there is one; with `preserve_color="luminance"`, the photo's colours
        with the painted luminance."""
        painted = ops.convert_to_numpy(self.painted())
        if getattr(self.task, "preserve_color", None) == "luminance":
            from keras_nst.colour import with_luminance

            painted = with_luminance(self.task.content_image, painted)
        return to_uint8(painted)

    # === Serialization ===

    def get_config(self) -> dict:
        """What rebuilds this model: `StyleTransferModel.from_config(model.get_config())`.

        Raises:
            ValueError: the model was given its own `extractor` or `terms`, which a config
                cannot describe.
        """
        if self._custom_parts:
            raise ValueError(
                "A StyleTransferModel built with its own `extractor` or `terms` has no config; "
                "rebuild it in code. Received: extractor or terms given"
            )
        weights = self.weights_source
        return {
            "name": self.name,
            "task": self._built_task.get_config(),
            "weights": os.fspath(weights) if isinstance(weights, os.PathLike) else weights,
            "pooling": self.pooling,
            "precision": self.requested_precision,
            "padding": self.padding,
            "average": self.average,
            "tile": self.tile,
            "tile_cut": self.tile_cut,
            "max_memory": self.max_memory,
        }

    def get_compile_config(self) -> dict | None:
        if getattr(self, "optimizer", None) is None:
            return None
        return {"optimizer": keras.saving.serialize_keras_object(self.optimizer)}

    def compile_from_config(self, config: dict) -> None:
        # Built by compile, so that `keras.models.load_model` restores its state (Adam's moments).
        self.compile(optimizer=keras.saving.deserialize_keras_object(config["optimizer"]))

    @classmethod
    def from_config(cls, config: dict) -> StyleTransferModel:
        config = dict(config)
        task = StyleTask.from_config(config.pop("task"))
        return cls(task, **config)
