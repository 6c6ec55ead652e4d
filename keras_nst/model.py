"""StyleTransferModel: a Keras model whose only trainable variable is the image being painted."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_nst import losses, memory
from keras_nst import optimizers as optimizers_lib
from keras_nst.choices import check_pooling, check_precision
from keras_nst.extractor import vgg19_extractor
from keras_nst.images import to_uint8
from keras_nst.precision import resolve_precision
from keras_nst.task import StyleTask

#: Steps of one epoch when `fit` is called without `steps_per_epoch`.
DEFAULT_STEPS_PER_EPOCH = 100


@keras.saving.register_keras_serializable(package="keras_nst")
class PixelRange(keras.constraints.Constraint):
    """Keeps pixels in [0, 255] after every optimizer update.

    Gatys et al. optimise unconstrained; clipping keeps the image displayable and the
    optimiser from wandering into colours no picture has (a projected-gradient step).
    """

    def __call__(self, w):
        return ops.clip(w, 0.0, 255.0)


@keras.saving.register_keras_serializable(package="keras_nst")
class StyleTransferModel(keras.Model):
    """Paints `task.num_variants` images by gradient descent on Gatys et al.'s losses.

    The image, shape `(num_variants, H, W, 3)` RGB in [0, 255], is the model's only trainable
    variable; the VGG-19 extractor is frozen. Content features and style Grams of the task are
    computed once, here, and kept as non-trainable variables; `train_step` computes every
    variant's weighted losses, applies the compiled optimizer and clips pixels to [0, 255].

    Logged losses are weighted and summed over variants: `loss = content_loss + style_loss
    (+ total_variation_loss)`, with `content_loss = alpha * sum_l w_l L_content(l)` and
    `style_loss = beta * sum_l w_l E_l`, and `style_loss/<layer>` is each layer's
    `beta * w_l * E_l`. They are the values at the step just taken (not running means), so
    `History` holds each epoch's last step.

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
        **kwargs,
    ):
        if not isinstance(task, StyleTask):
            raise ValueError(
                f"`task` must be a keras_nst.StyleTask. Received: task={type(task).__name__}"
            )
        check_pooling(pooling)
        check_precision(precision)
        super().__init__(**kwargs)

        # === Config ===
        self.task = task
        self.pooling = pooling
        self.precision = resolve_precision(precision)
        self.weights_source = weights  # `weights` is Keras' list of variables
        self.content_layer_names = task.content_layer_names
        self.style_layer_names = task.style_layer_names

        # Refuse, with the largest size that fits, before building anything.
        memory.check_fits(task, precision=self.precision)

        # === Layers ===
        self.extractor = vgg19_extractor(
            self.content_layer_names + self.style_layer_names,
            pooling=pooling,
            weights=weights,
            seed=task.seed,
            dtype=self.precision,
        )

        # === Targets, computed once ===
        content_features = self.extractor(task.content_image[None].astype("float32"))
        self.content_targets = [
            self._constant(content_features[name], f"content_target_{name}")
            for name in self.content_layer_names
        ]
        style_grams = {name: [] for name in self.style_layer_names}
        for image in task.style_images:
            features = self.extractor(image[None].astype("float32"))
            for name in self.style_layer_names:
                style_grams[name].append(losses.gram_matrix(features[name])[0])
        blend = np.array([variant.style_blend for variant in task.variants], "float32")
        self.style_targets = [
            self._constant(
                ops.einsum("vs,sij->vij", blend, ops.stack(style_grams[name])),
                f"style_target_{name}",
            )
            for name in self.style_layer_names
        ]

        # === Per-variant weights: alpha * w_l, beta * w_l and the TV weight ===
        def layer_weights(kind, names):
            # (num_variants, num_layers): each variant's weight times its layer weight, 0 for
            # layers the variant does not use.
            rows = [
                [getattr(v, f"{kind}_weight") * getattr(v, f"{kind}_layers").get(n, 0.0) for n in names]
                for v in task.variants
            ]
            return np.array(rows, "float32").reshape(task.num_variants, len(names))

        self.content_weights = layer_weights("content", self.content_layer_names)
        self.style_weights = layer_weights("style", self.style_layer_names)
        self.total_variation_weights = np.array(
            [v.total_variation_weight for v in task.variants], "float32"
        )
        self._log_total_variation = bool(self.total_variation_weights.any())
        self._loss_keys = [f"style_loss/{name}" for name in self.style_layer_names] + [
            "loss",
            "content_loss",
            "style_loss",
            "total_variation_loss",
        ]

        # === The image ===
        initial = task.initial_images()
        self.image = self.add_weight(
            shape=initial.shape,
            initializer=lambda shape, dtype: ops.convert_to_tensor(initial, dtype),
            dtype="float32",
            trainable=True,
            constraint=PixelRange(),
            # Under a distribution strategy, every replica holds the same image; reading and
            # writing the first replica's copy keeps runs identical to one device.
            aggregation="only_first_replica",
            name="image",
        )
        self.built = True

    def _constant(self, value, name):
        return self.add_weight(
            shape=tuple(value.shape),
            initializer=lambda shape, dtype: ops.convert_to_tensor(value, dtype),
            dtype="float32",
            trainable=False,
            name=name,
        )

    # === Losses ===

    def compute_losses(self, images, rows=None) -> dict:
        """Weighted losses of `images`, the rows `rows` of the variant image.

        Args:
            images: `(k, H, W, 3)` images in [0, 255].
            rows: `(k,)` variant indices of `images`; `None` means all variants in order.

        Returns:
            dict of `(k,)` tensors: `loss`, `content_loss`, `style_loss`,
            `total_variation_loss`, and `style_loss/<layer>` (each layer's `beta * w_l * E_l`).
        """
        if rows is None:
            rows = ops.arange(self.task.num_variants)

        def per_row(values):
            return ops.take(ops.convert_to_tensor(values), rows, axis=0)

        features = self.extractor(images)
        num_variants = ops.shape(images)[0]
        zeros = ops.zeros((num_variants,), "float32")
        content = zeros
        content_weights = per_row(self.content_weights)
        for index, (name, target) in enumerate(zip(self.content_layer_names, self.content_targets)):
            layer_loss = losses.content_loss(features[name], target)
            content = content + content_weights[:, index] * layer_loss
        result = {}
        style = zeros
        style_weights = per_row(self.style_weights)
        for index, (name, target) in enumerate(zip(self.style_layer_names, self.style_targets)):
            layer_loss = losses.style_loss(features[name], per_row(target))
            layer_loss = style_weights[:, index] * layer_loss
            result[f"style_loss/{name}"] = layer_loss
            style = style + layer_loss
        total_variation = per_row(self.total_variation_weights) * losses.total_variation_loss(images)
        result.update(
            loss=content + style + total_variation,
            content_loss=content,
            style_loss=style,
            total_variation_loss=total_variation,
        )
        return result

    def _logs(self, per_variant: dict) -> dict:
        keys = ["loss", "content_loss", "style_loss"]
        if self._log_total_variation:
            keys.append("total_variation_loss")
        keys += [f"style_loss/{name}" for name in self.style_layer_names]
        logs = {key: ops.sum(per_variant[key]) for key in keys}
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            # Each replica holds its own variants' sums; every replica reports the total
            # (Keras then averages identical values across replicas).
            logs = context.all_reduce(tf.distribute.ReduceOp.SUM, logs)
        if self._multi_worker():
            # Keras reduces logs across workers with `strategy.reduce(MEAN, v, axis=0)`, which
            # needs a batch axis: give each scalar one.
            logs = {key: ops.reshape(value, (1,)) for key, value in logs.items()}
        return logs

    def _multi_worker(self) -> bool:
        strategy = self.distribute_strategy
        in_multi_worker_mode = getattr(strategy.extended, "_in_multi_worker_mode", None)
        return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
            in_multi_worker_mode and in_multi_worker_mode()
        )

    @staticmethod
    def _rows(data):
        # This replica's variant indices; -1 pads the batch when there are fewer variants
        # than a multiple of the replicas. An idle replica gets an empty batch: no work.
        indices = ops.reshape(data, (-1,))
        return tf.boolean_mask(indices, indices >= 0)

    def _losses_of_rows(self, rows) -> dict:
        """`compute_losses` of the image rows `rows`; a replica with no rows does no work."""

        def compute():
            return self.compute_losses(ops.take(self.image, rows, axis=0), rows)

        def idle():
            # (An empty batch cannot go through the extractor: oneDNN rejects it.)
            return {key: tf.zeros((0,), "float32") for key in self._loss_keys}

        return tf.cond(tf.size(rows) > 0, compute, idle)

    def train_step(self, data):
        rows = self._rows(data)
        with tf.GradientTape() as tape:
            per_variant = self._losses_of_rows(rows)
            # Replicas compute disjoint variants; Keras sums their gradients, which is the
            # gradient of the summed loss.
            total = ops.sum(per_variant["loss"])
        gradients = tape.gradient(total, [self.image])
        # The gradient of a gather is sparse; the optimizers and the all-reduce want it dense.
        gradients = [tf.convert_to_tensor(gradient) for gradient in gradients]
        self.optimizer.apply(gradients, [self.image])
        return self._logs(per_variant)

    def test_step(self, data):
        return self._logs(self._losses_of_rows(self._rows(data)))

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
        super().compile(
            optimizer=optimizers_lib.get(optimizer), jit_compile=jit_compile, **kwargs
        )

    def _dataset(self, x):
        if x is not None and x is not self.task:
            raise ValueError(
                "`x` must be the StyleTask this model was built with (or None): the model's "
                f"targets are computed from it. Received: x={x!r}"
            )
        # The data are the variant indices: variants are the unit of data parallelism, so
        # each replica paints its share of the rows. Padded with -1 (no variant) to a
        # multiple of the replicas, since a distributed batch must feed every replica.
        replicas = self.distribute_strategy.num_replicas_in_sync
        num_variants = self.task.num_variants
        per_replica = -(-num_variants // replicas)
        indices = np.full(per_replica * replicas, -1, "int32")
        indices[:num_variants] = np.arange(num_variants)
        # Round-robin over replicas (replica r gets variants r, r + R, ...), so idle slots
        # fall on the last replicas.
        indices = indices.reshape(per_replica, replicas).T.reshape(-1)
        dataset = tf.data.Dataset.from_tensor_slices(indices)
        return dataset.batch(len(indices), drop_remainder=True).repeat()

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
        return super().fit(
            self._dataset(x),
            y,
            *args,
            steps_per_epoch=steps_per_epoch or DEFAULT_STEPS_PER_EPOCH,
            **kwargs,
        )

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
        """The painted images, `uint8` of shape `(num_variants, H, W, 3)`."""
        return to_uint8(ops.convert_to_numpy(self.image))
