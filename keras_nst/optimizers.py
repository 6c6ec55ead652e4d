"""Optimizers for painting pixels: name lookup with pixel-scale defaults, and L-BFGS."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from keras_nst.settings import (
    DEFAULT_LEARNING_RATES,
    OPTIMIZERS,
    check_learning_rate,
    check_optimizer_name,
)

__all__ = [
    "DEFAULT_LEARNING_RATES",
    "LBFGS",
    "OPTIMIZERS",
    "RestartedAdam",
    "carried_over",
    "get",
    "starting_at",
]


def _problem_axes(variable) -> tuple[int, ...]:
    """The axes one L-BFGS problem spans: each image of a batch of images (rank 4: the
    variants of a painting) is a problem of its own; any other variable is one problem."""
    rank = len(variable.shape)
    return tuple(range(1, rank)) if rank == 4 else tuple(range(rank))


def _dot(a, b, axes):
    """Inner products over `axes`, kept as size-1 axes so that they broadcast."""
    return ops.sum(a * b, axis=axes, keepdims=True)


@keras.saving.register_keras_serializable(package="keras_nst")
class LBFGS(keras.optimizers.Optimizer):
    """Limited-memory BFGS, one iteration per `fit` step, as a Keras optimizer.

    Gatys et al. optimise with L-BFGS. This runs one L-BFGS iteration per step without a
    line search (a line search needs several loss evaluations per step, which Keras' loop
    does not give): the two-loop recursion turns the gradient into a quasi-Newton
    direction from the last `history_size` curvature pairs, kept in optimizer variables.

    The images of a batch variable (rank 4, e.g. the variants of a painting, painted in one
    `fit`) are independent problems: each has its own inner products, curvature pairs,
    descent check and step cap, so an image is painted as it would be alone.

    Two safeguards replace the line search:
    - Powell damping: without a line search many pairs have `s.y <= 0` (or nearly), and
      plain L-BFGS would have to drop them. Each `y` is blended with `sigma * s` (sigma =
      |y| / |s|) just enough that `s.y >= 0.2 * sigma * s.s`, so every pair is usable and
      the inverse Hessian stays positive definite.
    - Step cap: no pixel moves more than `max_step` in one step; the first step (no
      history yet) and any non-descent direction fall back to the gradient direction,
      scaled to exactly `max_step`.

    Args:
        learning_rate: multiplies the quasi-Newton step (1 is the full step).
        history_size: number of curvature pairs kept (m).
        max_step: largest change of any element per step (pixels, for images).
        damping: Powell's threshold (0.2 in Nocedal and Wright); 0 disables damping.
        start_step: the step count (`iterations`) at which this optimizer's history starts:
            its first step takes no curvature pair (the image before it is not its own).
            `carried_over` and `starting_at` set it for an optimizer that takes over a
            painting mid-way.
        name: optimizer name.
        **kwargs: other `keras.optimizers.Optimizer` arguments.
    """

    def __init__(
        self,
        learning_rate=1.0,
        history_size: int = 10,
        max_step: float = 20.0,
        damping: float = 0.2,
        start_step: int = 0,
        name: str = "lbfgs",
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.start_step = _check_start_step(start_step)
        if isinstance(history_size, bool) or not isinstance(history_size, int) or history_size < 1:
            raise ValueError(
                "`history_size` must be a positive integer. "
                f"Received: history_size={history_size!r}"
            )
        if not (isinstance(max_step, (int, float)) and math.isfinite(max_step) and max_step > 0):
            raise ValueError(
                f"`max_step` must be a positive finite number. Received: max_step={max_step!r}"
            )
        if not (isinstance(damping, (int, float)) and 0 <= damping < 1):
            raise ValueError(f"`damping` must be in [0, 1). Received: damping={damping!r}")
        self.history_size = history_size
        self.max_step = float(max_step)
        self.damping = float(damping)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        m = self.history_size
        self._s, self._y, self._rho, self._yy, self._previous_x, self._previous_g, self._count = (
            [],
            [],
            [],
            [],
            [],
            [],
            [],
        )
        for variable in variables:
            shape = (m, *variable.shape)
            axes = _problem_axes(variable)
            # 1 / (s.y) (0: no pair) and y.y per pair and problem, shaped to broadcast.
            problems = tuple(
                1 if axis in axes else size for axis, size in enumerate(variable.shape)
            )
            self._s.append(self.add_variable(shape, name="lbfgs_s"))
            self._y.append(self.add_variable(shape, name="lbfgs_y"))
            self._rho.append(self.add_variable((m, *problems), name="lbfgs_rho"))
            self._yy.append(self.add_variable((m, *problems), name="lbfgs_yy"))
            self._previous_x.append(self.add_variable_from_reference(variable, "lbfgs_x"))
            self._previous_g.append(self.add_variable_from_reference(variable, "lbfgs_g"))
            self._count.append(self.add_variable((), dtype="int64", name="lbfgs_count"))

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        s_history, y_history, rho = self._s[index], self._y[index], self._rho[index]
        count_variable = self._count[index]
        m = self.history_size
        x = ops.cast(variable, "float32")
        g = ops.cast(gradient, "float32")

        axes = _problem_axes(variable)

        def dot(a, b):
            return _dot(a, b, axes)

        # === The newest curvature pair of each problem, Powell-damped ===
        s = x - self._previous_x[index]
        y = g - self._previous_g[index]
        ss, sy, yy = dot(s, s), dot(s, y), dot(y, y)
        has_pair = ops.logical_and(self.iterations > self.start_step, ss > 0)
        sigma = ops.sqrt(yy / ops.maximum(ss, 1e-30))
        threshold = self.damping * sigma * ss
        theta = ops.where(
            sy >= threshold,
            1.0,
            (1.0 - self.damping) * sigma * ss / ops.maximum(sigma * ss - sy, 1e-30),
        )
        r = theta * y + (1.0 - theta) * sigma * s
        sr = dot(s, r)
        has_pair = ops.logical_and(has_pair, sr > 0)
        any_pair = ops.any(has_pair)
        count = ops.convert_to_tensor(count_variable)
        # Write the pairs into slot `count % m` of the ring buffers (when any problem has one;
        # a problem without one gets an empty slot there: rho 0).
        slot = ops.logical_and(ops.one_hot(ops.mod(count, m), m) > 0, any_pair)
        slot_rows = ops.reshape(slot, (m,) + (1,) * len(x.shape))
        written = ops.logical_and(slot_rows, ops.expand_dims(has_pair, 0))
        s_history.assign(ops.where(written, ops.expand_dims(s, 0), s_history))
        y_history.assign(ops.where(written, ops.expand_dims(r, 0), y_history))
        new_rho = ops.where(has_pair, 1.0 / ops.maximum(sr, 1e-30), 0.0)
        rho.assign(ops.where(slot_rows, ops.expand_dims(new_rho, 0), rho))
        yy_history = self._yy[index]
        yy_history.assign(ops.where(slot_rows, ops.expand_dims(dot(r, r), 0), yy_history))
        count = count + ops.cast(any_pair, "int64")
        count_variable.assign(count)

        # === Two-loop recursion: direction = -H g ===
        q = g
        newest_to_oldest = []
        for j in range(m):
            slot_j = ops.mod(count - 1 - j, m)
            s_j = ops.take(s_history, slot_j, axis=0)
            y_j = ops.take(y_history, slot_j, axis=0)
            rho_j = ops.take(rho, slot_j, axis=0)  # 0 for empty slots: they do nothing
            alpha = rho_j * dot(s_j, q)
            q = q - alpha * y_j
            newest_to_oldest.append((s_j, y_j, rho_j, ops.take(yy_history, slot_j, axis=0), alpha))
        # Initial inverse Hessian gamma * I, gamma = s.y / y.y of each problem's newest pair
        # (s.y = 1 / rho).
        gamma = ops.ones_like(ss)
        has_history = ops.zeros_like(ss) > 0
        for _, _, rho_j, yy_j, _ in reversed(newest_to_oldest):  # oldest first: the newest wins
            gamma = ops.where(rho_j > 0, 1.0 / ops.maximum(rho_j * yy_j, 1e-30), gamma)
            has_history = ops.logical_or(has_history, rho_j > 0)
        direction = gamma * q
        for s_j, y_j, rho_j, _, alpha in reversed(newest_to_oldest):
            beta = rho_j * dot(y_j, direction)
            direction = direction + s_j * (alpha - beta)
        step = -ops.cast(learning_rate, "float32") * direction

        # === Safeguards: descent, and no element moves more than max_step ===
        def largest(a):
            return ops.max(ops.abs(a), axis=axes, keepdims=True)

        gradient_step = -g * (self.max_step / ops.maximum(largest(g), 1e-30))
        use_gradient = ops.logical_or(ops.logical_not(has_history), dot(step, g) >= 0)
        step = ops.where(use_gradient, gradient_step, step)
        step = step * ops.minimum(1.0, self.max_step / ops.maximum(largest(step), 1e-30))

        self._previous_x[index].assign(x)
        self._previous_g[index].assign(g)
        variable.assign(ops.cast(x + step, variable.dtype))

    def get_config(self):
        config = super().get_config()
        config.update(
            history_size=self.history_size,
            max_step=self.max_step,
            damping=self.damping,
            start_step=self.start_step,
        )
        return config


def _check_start_step(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"`start_step` must be an integer >= 0. Received: start_step={value!r}")
    return value


@keras.saving.register_keras_serializable(package="keras_nst")
class RestartedAdam(keras.optimizers.Adam):
    """Keras' Adam, its bias correction counted from `start_step` instead of from 0.

    Keras' Adam folds the bias correction of its moments into the step size,
    `lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)` at step `t = iterations + 1`. An Adam that
    takes over a painting mid-way (after another optimizer's stages) starts with zero moments
    but a large `t`, so it would skip the correction of its moments: its first step would
    move each pixel by `lr * sqrt(1 - beta_2**t) * (1 - beta_1) / sqrt(1 - beta_2)` instead
    of `lr` (with Keras' betas: 0.6 lr at t = 40, 1.6 lr at t = 300, 2.5 lr at t = 1000), and
    the following steps too far or too short likewise until the moments fill. This one scales
    the learning rate by the ratio of the correction at `t - start_step` to the one at `t`,
    so its steps are those of a fresh Adam.

    Args:
        start_step: the step count (`iterations`) at which its moments started from zero.
        **kwargs: `keras.optimizers.Adam`'s arguments.
    """

    def __init__(self, *args, start_step: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.start_step = _check_start_step(start_step)

    def update_step(self, gradient, variable, learning_rate):
        if self.start_step:
            step = ops.cast(self.iterations + 1, "float32")

            def correction(t):
                return ops.sqrt(1 - ops.power(self.beta_2, t)) / (1 - ops.power(self.beta_1, t))

            scale = correction(step - self.start_step) / correction(step)
            learning_rate = ops.cast(learning_rate, "float32") * scale
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "start_step": self.start_step}


#: The optimizer class of each name in `OPTIMIZERS`.
CLASSES = {
    "adam": keras.optimizers.Adam,
    "rmsprop": keras.optimizers.RMSprop,
    "sgd": keras.optimizers.SGD,
    "lbfgs": LBFGS,
}


def get(identifier: Any = None, learning_rate: float | None = None) -> keras.optimizers.Optimizer:
    """An optimizer for `StyleTransferModel.compile`.

    Args:
        identifier: `None` (Adam with learning rate 10), a name in `OPTIMIZERS`, or a
            `keras.optimizers.Optimizer` instance (returned unchanged).
        learning_rate: overrides the name's default learning rate.

    Raises:
        ValueError: an unknown name or a learning rate that is not a positive finite number.
    """
    if isinstance(identifier, keras.optimizers.Optimizer):
        if learning_rate is not None:
            raise ValueError(
                "`learning_rate` applies to optimizer names only; set it on the optimizer "
                f"instance instead. Received: learning_rate={learning_rate!r}"
            )
        return identifier
    name = check_optimizer_name("adam" if identifier is None else identifier)
    if learning_rate is None:
        learning_rate = DEFAULT_LEARNING_RATES[name]
    learning_rate = check_learning_rate(learning_rate)
    return CLASSES[name](learning_rate=learning_rate)


def carried_over(
    optimizer: keras.optimizers.Optimizer, variable, resize
) -> keras.optimizers.Optimizer:
    """A copy of `optimizer` for a resized `variable`, with its state carried over.

    The step count is kept (learning-rate schedules and Adam's bias correction go on). Slots
    shaped like the old variable are resized to the new one with `resize(values, size,
    method, clip)`: second moments (`velocity`) bilinearly and clipped at zero, the rest
    bicubically (at the same size, `resize` may move them: a video warps them along the
    flow). Other slots are copied where their shape still fits. L-BFGS' curvature
    pairs describe the old size and mean nothing for the new one: its history starts afresh.

    Args:
        optimizer: a built optimizer of the old variable.
        variable: the new variable.
        resize: `keras_nst.canvas.resize`.
    """
    restart = restarts_each_stage(optimizer)
    if restart:  # a fresh history, its first pair taken from its own first step
        new = starting_at(optimizer, int(ops.convert_to_numpy(optimizer.iterations)))
    else:
        new = optimizer.__class__.from_config(optimizer.get_config())
    new.build([variable])
    new.iterations.assign(optimizer.iterations)
    if restart:
        return new
    _carry_slots(optimizer, new, tuple(variable.shape[1:3]), resize)
    return new


def carry_in_place(optimizer: keras.optimizers.Optimizer, variable, move) -> None:
    """Moves a built `optimizer`'s per-pixel slots with `move` (as `carried_over` does, for a
    `variable` of unchanged shape), in its own variables: a step compiled with it goes on
    without tracing again. Not for optimizers that restart at each canvas (L-BFGS)."""
    if restarts_each_stage(optimizer):
        raise ValueError(
            "`optimizer` must not be one that restarts at each canvas. "
            f"Received: {type(optimizer).__name__}"
        )
    _carry_slots(optimizer, optimizer, tuple(variable.shape[1:3]), move)


def _carry_slots(old, new, size, resize) -> None:
    """`new`'s slots from `old`'s: per-pixel ones through `resize`, the rest copied where
    their shape fits (`old` may be `new`)."""
    for old_slot, new_slot in zip(old.variables, new.variables):
        if new_slot.path == new.iterations.path:
            continue
        if len(old_slot.shape) == 4 and len(new_slot.shape) == 4:
            # Per-pixel slots go through `resize` even at the same size: a video's carry
            # moves them along the optical flow.
            if "velocit" in new_slot.path:
                values = resize(old_slot, size, "bilinear", (0.0, float("inf")))
            else:
                values = resize(old_slot, size, "bicubic", None)
            new_slot.assign(values)
        elif old_slot is not new_slot and tuple(old_slot.shape) == tuple(new_slot.shape):
            new_slot.assign(old_slot)


def starting_at(optimizer: keras.optimizers.Optimizer, step: int) -> keras.optimizers.Optimizer:
    """A fresh copy of `optimizer` (never the instance itself) that takes over a painting at
    step `step`: its state starts empty there, and where the optimizer's arithmetic counts
    from its first step (Adam's bias correction, L-BFGS' first curvature pair) it counts from
    `step`. Keras' `Adam` becomes a `RestartedAdam`. Build it and set its `iterations` to
    `step` before its first step (`StyleTransferModel.set_task(..., optimizer=)` does).
    """
    config = optimizer.get_config()
    cls = type(optimizer)
    if cls is keras.optimizers.Adam:
        cls = RestartedAdam
    if issubclass(cls, (RestartedAdam, LBFGS)):
        config["start_step"] = int(step)
    return cls.from_config(config)


def restarts_each_stage(optimizer) -> bool:
    """Whether `carried_over` starts `optimizer`'s state afresh at every new canvas (L-BFGS,
    whose curvature pairs describe the old one)."""
    return isinstance(optimizer, LBFGS)


def name_of(optimizer: keras.optimizers.Optimizer | None) -> str:
    """The `OPTIMIZERS` name of an optimizer instance (for memory estimates), `"adam"` for
    `None` (as `get` makes it), or its class name in lower case for any other optimizer."""
    if optimizer is None:
        return "adam"
    for name, cls in CLASSES.items():
        if isinstance(optimizer, cls):
            return name
    return type(optimizer).__name__.lower()
