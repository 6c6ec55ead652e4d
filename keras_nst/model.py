"""StyleTransferModel: a Keras model whose only trainable variable is the image being painted.

The model is the Keras shell around a painting's parts, each built from what it needs: the
canvas (`keras_nst.canvas`: the image and its running average), the objective
(`keras_nst.objective`: the loss terms and their targets), the frozen VGG-19
(`keras_nst.extractor`) and, for an image too large to go through it whole, the tiled step
(`keras_nst.tiled_step`). `set_task` moves them all to a new stage.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_nst import canvas as canvas_lib
from keras_nst import distribute, tiling, vgg19
from keras_nst import optimizers as optimizers_lib
from keras_nst import terms as terms_lib
from keras_nst.extractor import vgg19_extractor
from keras_nst.features import TiledFeatures, WholeFeatures
from keras_nst.images import to_uint8
from keras_nst.objective import Objective
from keras_nst.precision import check_precision, resolve_precision
from keras_nst.task import StyleTask
from keras_nst.terms import default_terms
from keras_nst.tiled_step import TiledStep, replica_share
from keras_nst.tiles import TilePlan

#: Steps of one epoch when `fit` is called without `steps_per_epoch`.
DEFAULT_STEPS_PER_EPOCH = 100

#: Kept importable from here for code and saved models that name it so.
PixelRange = canvas_lib.PixelRange


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
            layers before it again (`tiling.keep_for`).
        tile_cut: where a tiled stage may tile only VGG-19's first layers: `"auto"` (tile
            only the layers through pool1, pool2 or pool3 where that fits in the memory of
            tiles of `tile` px and costs less, `tiling.split_for`), a pooling layer's name
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
        vgg19.check_pooling(pooling)
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
        self.tile_cut = tile_cut
        self.max_memory = max_memory
        self._compiled_features = None  # the targets' features of a tiled image
        self.requested_precision = precision
        self.precision = resolve_precision(precision)
        self.weights_source = weights  # `weights` is Keras' list of variables
        self.objective = Objective(terms if terms is not None else default_terms(task))
        self._terms_given = terms is not None
        self._own_extractor = extractor is None
        self.canvas = canvas_lib.Canvas(self._variable, self._untrack_variable, average)

        # === Layers ===
        if extractor is None and not self.tile:
            # Refuse, with the largest size that fits, before building anything.
            tiling.check_fits(task, self.precision)
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
        self.tiled = TiledStep(self.objective, extractor, self._seen, self._keep_plan)

        # === Targets and the image ===
        self.set_task(task)
        self.built = True

    @property
    def terms(self) -> list:
        """The loss terms, summed in order (`keras_nst.terms`)."""
        return self.objective.terms

    @property
    def layer_names(self) -> list[str]:
        """Every layer any term reads, in network order."""
        return self.objective.layer_names

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
        return self.objective.targets

    @property
    def image(self):
        """The image being painted, the model's only trainable variable."""
        return self.canvas.image

    @property
    def image_average(self):
        return self.canvas.image_average

    @property
    def image_average_weight(self):
        return self.canvas.image_average_weight

    @property
    def plan(self) -> TilePlan | None:
        """The current stage's `TilePlan` where every layer is tiled, else `None`."""
        return self.tiled.plan

    @property
    def split(self):
        """The current stage's `(cut, TilePlan)` where only the first layers are tiled."""
        return self.tiled.split

    # === Stages ===

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
        shape = (task.num_variants, task.height, task.width, 3)
        keep = None
        if keep_average is not False and self.image_average is not None:
            keep = canvas_lib.checked_keep(keep_average, tuple(self.image_average.shape), shape)
        carry = carry or canvas_lib.resize
        with self.distribute_strategy.scope():
            if images is None:
                # The next stage starts from the average, where there is one: it is the
                # better picture (the optimiser's last steps jitter around it).
                images = (
                    task.initial_images()
                    if self.image is None
                    else canvas_lib.resize(ops.convert_to_tensor(self.painted()), shape[1:3])
                )
            if tile is not None:
                self.tile = tile or None
            targets = self._same_step_targets(task, optimizer)
            self.task = task
            if targets is not None:
                self.objective.assign(targets)
                self.canvas.repaint(images, self.optimizer, carry, keep)
                return
            plan = self._plan_for(task.height, task.width)
            self.tiled.set_plan(plan, self._split_for(task, plan))
            # Tiled steps call one compiled function per tile and pass: the step itself
            # runs eagerly.
            self.run_eagerly = plan is not None or getattr(self, "_eager_by_user", False)
            self.objective.retarget(task, self._extract, self._variable, self._untrack_variable)
            optimizer = self.canvas.replace(
                images, getattr(self, "optimizer", None), carry, optimizer, keep
            )
            if optimizer is not None:
                self.optimizer = optimizer
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
        targets = self.objective.target_values(task, self._extract)
        return targets if self.objective.fits(targets) else None

    # === The canvas ===

    def painted(self):
        """The painting so far, float `(num_variants, H, W, 3)`: the bias-corrected running
        average of the image where there is one (`average` > 0 and a step taken), else the
        image itself."""
        return self.canvas.painted()

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The painting's own state, for checkpoints: the image, and the average if any."""
        return self.canvas.state_arrays()

    def assign_state_arrays(self, arrays: dict) -> None:
        """Puts back what `state_arrays` gave."""
        self.canvas.assign_state_arrays(arrays)

    def _seen(self, images):
        """What the network sees of `images` (their luminance only with
        `preserve_color="luminance"`)."""
        return canvas_lib.seen(images, getattr(self.task, "preserve_color", None))

    def _features(self, images):
        """The extractor's features of `images` (as `_seen`)."""
        return self.extractor(self._seen(images))

    # === Tiles ===

    def _plan_for(self, height: int, width: int) -> TilePlan | None:
        """The tile plan of a `height x width` image, or `None` when it is painted whole."""
        return tiling.plan_for(height, width, self.tile, self.layer_names)

    def _split_for(self, task: StyleTask, plan: TilePlan | None):
        """`(cut, plan)` where only the first layers are tiled (`tiling.split_for`)."""
        splittable = self._own_extractor and self.distribute_strategy.num_replicas_in_sync == 1
        return tiling.split_for(
            task, plan, self.tile, self.tile_cut, self.layer_names, self.precision, splittable
        )

    def _extract(self, images):
        """Features for targets: whole, or (for an image that needs tiles) tile by tile."""
        images = ops.convert_to_tensor(images)
        plan = self._plan_for(int(images.shape[1]), int(images.shape[2]))
        if plan is None:
            return WholeFeatures(self._features(images))
        # Compiled: a graph frees each activation once used, where an eager call of the
        # extractor holds them all (at 4096 px the targets then needed more than the steps).
        if self._compiled_features is None:
            self._compiled_features = tf.function(self._features, reduce_retracing=True)
        return TiledFeatures(self._compiled_features, images, plan)

    def _keep_plan(self, tiles: int) -> tuple[str | None, int]:
        """`tiling.keep_for` this stage: the compiled optimizer, `max_memory` or what is
        available (on GPUs, whose memory is not the host's, nothing unless it is given)."""
        gpu = bool(tf.config.list_logical_devices("GPU"))
        return tiling.keep_for(
            self.task,
            self.tile,
            tiles,
            self.layer_names,
            optimizer=optimizers_lib.name_of(getattr(self, "optimizer", None)),
            precision=self.precision,
            available=self.max_memory,
            splittable=self._own_extractor and not (self.max_memory is None and gpu),
        )

    def _tiled_images(self, rows):
        """The rows a tiled step paints, and their images: under a strategy every replica
        takes every row (its share of each image is its tiles), whatever rows the data dealt
        it."""
        if replica_share()[1] > 1:
            rows = ops.arange(self.task.num_variants)
        return rows, tf.convert_to_tensor(tf.gather(self.image, rows))

    def _shared_logs(self, per_variant: dict) -> dict:
        """Logs of a tiled step: every replica holds the whole losses, so only the first
        reports them to the all-reduce that sums the replicas' logs."""
        if replica_share()[0] > 0:
            per_variant = {key: tf.zeros_like(value) for key, value in per_variant.items()}
        return distribute.total_logs(self.objective.logs(per_variant), self.distribute_strategy)

    def _tiled_train_step(self, rows):
        rows, images = self._tiled_images(rows)
        per_variant, gradient = self.tiled.losses(images, rows, tape=True)
        full = tf.scatter_nd(rows[:, None], gradient, tf.shape(self.image))
        self.optimizer.apply([full], [self.image])
        if self.image_average is not None:
            self.canvas.update_average()
        return self._shared_logs(per_variant)

    # === Losses ===

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
            return self.tiled.losses(tf.convert_to_tensor(images), tf.convert_to_tensor(rows))[0]
        features = self._features(images)
        return self.objective.score(
            images, self.objective.target_tensors(), rows, features=features
        )

    def _losses_of_rows(self, rows) -> dict:
        """`compute_losses` of the image rows `rows`; a replica with no rows does no work."""
        return distribute.unless_idle(
            rows,
            lambda: self.compute_losses(ops.take(self.image, rows, axis=0), rows),
            self.objective.loss_keys,
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
            self.canvas.update_average()
        return distribute.total_logs(self.objective.logs(per_variant), self.distribute_strategy)

    def test_step(self, data):
        rows = self._local_rows(data)
        if self.plan is not None:
            rows, images = self._tiled_images(rows)
            return self._shared_logs(self.tiled.losses(images, rows)[0])
        per_variant = self._losses_of_rows(rows)
        return distribute.total_logs(self.objective.logs(per_variant), self.distribute_strategy)

    @property
    def metrics(self):
        # Logs are the current step's losses, not running means: no metric objects to reset.
        return []

    # === Keras entry points ===

    def compile(self, optimizer=None, *, jit_compile: bool = False, **kwargs):
        """Configures the optimizer.

        Args:
            optimizer: a `keras.optimizers.Optimizer`, a name in
                `keras_nst.settings.OPTIMIZERS` (with a pixel-scale learning rate), or `None`
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
        `History` and the callbacks' logs hold every term's loss and each style layer's.
        `keras_nst.callbacks` has what `keras_nst.stylize` adds: `StopOnSignal` (a first
        Ctrl-C or SIGTERM stops after the current step, with every callback's `on_train_end`
        run), `StopOnNonFinite` and `StyleProgbarLogger` (the total, content and style
        losses only).
        """
        # The data is a placeholder; shuffling it means nothing (and Keras would warn).
        kwargs.setdefault("shuffle", False)
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
        return to_uint8(canvas_lib.shown(ops.convert_to_numpy(self.painted()), self.task))

    # === Serialization ===

    def get_config(self) -> dict:
        """What rebuilds this model: `StyleTransferModel.from_config(model.get_config())`.
        Terms of its own are in it as their registered names and configs
        (`keras_nst.terms.serialize`).

        Raises:
            ValueError: the model was given its own `extractor`, which a config cannot
                describe, or a term whose class is not registered.
        """
        if not self._own_extractor:
            raise ValueError(
                "A StyleTransferModel built with its own `extractor` has no config; rebuild it "
                "in code. Received: extractor given"
            )
        weights = self.weights_source
        config = {
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
        if self._terms_given:
            config["terms"] = [terms_lib.serialize(term) for term in self.terms]
        return config

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
        if config.get("terms") is not None:
            config["terms"] = [terms_lib.deserialize(term, task) for term in config["terms"]]
        return cls(task, **config)
