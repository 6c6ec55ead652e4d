"""Keras callbacks for a painting: a readable progress bar, TensorBoard, and the guards that
stop it cleanly (Ctrl-C or SIGTERM after the current step; a NaN or Inf loss with the last
good image put back). `keras_nst.stylize` installs them all; a `model.fit` of your own takes
them like any Keras callback."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from keras import ops

#: Default root of TensorBoard runs; each run is a subdirectory (`tensorboard --logdir logs`).
DEFAULT_LOG_ROOT = "logs"

#: The logs the progress bar shows (`size`: the stage of a schedule of several); per-layer
#: losses go to TensorBoard and `History` only.
PROGRESS_KEYS = ("size", "loss", "content_loss", "style_loss", "total_variation_loss")


def replace_earlier_events(log_dir) -> None:
    """Removes an earlier run's event files from `log_dir`, so that TensorBoard draws one
    run there, not two interleaved (a new run replaces the old one, as an output image is
    replaced)."""
    from keras_nst.paths import earlier_events

    for path in earlier_events(log_dir):
        path.unlink(missing_ok=True)


#: The HParams dashboard's metric columns: every run declares the same ones.
HPARAMS_METRICS = ("loss", "content_loss", "style_loss", "total_variation_loss")


class _Shown(float):
    """A loss as the progress bar prints it: 4 significant digits (`1.399e+08`), where Keras'
    own format would print `139878496.0000`."""

    def __truediv__(self, other):  # the bar divides by a count of 1 before formatting
        return _Shown(float(self) / other)

    def __format__(self, spec):
        return f"{float(self):.4g}"


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


class _Progbar(keras.utils.Progbar):
    """The painting's progress on one line: the step of the whole painting (counting on from
    `start`, a resumed painting's steps before this `fit`), a bar, the time left and the
    losses. The time left is measured over this `fit`'s steps and weighted by each step's
    `costs` (a larger stage's steps take longer), so coarse to fine it is not the small
    first scale's pace. Where standard output is not a terminal (a pipe, a log file), plain
    lines instead: about twenty over the painting and at least one a minute, no control
    codes."""

    def __init__(self, *args, start: int = 0, costs=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._offset = start
        self._costs = costs  # cumulative: costs[n] is the cost of the first n steps
        self._terminal = hasattr(sys.stdout, "isatty") and sys.stdout.isatty()
        self._first = None  # (step, time) after this fit's first step
        self._last_shown = 0.0
        self._width = 0

    def _cost(self, step: int) -> float:
        if self._costs is None:
            return float(step)
        return self._costs[min(max(step, 0), len(self._costs) - 1)]

    def _left(self, current: int, now: float) -> float | None:
        """Seconds left, from the pace since this fit's first step (which traces)."""
        if self._first is None or current <= self._first[0] or not self.target:
            return None
        done = self._cost(current) - self._cost(self._first[0])
        pace = (now - self._first[1]) / max(done, 1e-12)
        return pace * (self._cost(self.target) - self._cost(current))

    def update(self, current, values=None, finalize=None):
        if self.verbose != 1:
            return super().update(current, values, finalize)
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        now = time.time()
        if self._first is None and current > self._offset:
            self._first = (current, now)
        if self._terminal:
            if not finalize and now - self._last_shown < self.interval:
                return
        else:
            every = max(1, (self.target or 100) // 20)
            due = current % every == 0 or now - self._last_shown >= 60
            if not finalize and (not due or current == self.target):
                return
        self._last_shown = now
        parts = [f"step {current}/{self.target}" if self.target else f"step {current}"]
        left = None if finalize else self._left(current, now)
        if finalize:
            parts.append(f"{_clock(now - self._start)} in all")
        elif left is not None:
            parts.append(f"{_clock(left)} left")
        parts += [f"{key}: {value:.4g}" for key, value in values or []]
        line = " - ".join(parts)
        if not self._terminal:
            print(line, flush=True)
            return
        if self.target:
            filled = int(20 * min(current, self.target) / self.target)
            line = f"{'━' * filled}{' ' * (20 - filled)} {line}"
        padding = " " * max(0, self._width - len(line))
        self._width = len(line)
        sys.stdout.write(f"\r{line}{padding}" + ("\n" if finalize else ""))
        sys.stdout.flush()


class StyleProgbarLogger(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, showing only the total, content and style losses (and TV).

    A painting logs one loss per style layer as well; nine numbers on one line wrap into an
    unreadable block in a terminal. They stay in `History` and TensorBoard. `stylize` counts
    its bar on the whole painting's steps: `start` steps were painted before this `fit` (a
    resumed painting), of `total`; a painting stopped early ends its bar where it stopped.

    Args:
        start: steps painted before this `fit`.
        total: the whole painting's steps (default: this `fit`'s).
        costs: each step's relative cost (a schedule's: its stage's pixels), for the time
            left; by default all steps cost the same.
    """

    def __init__(self, start: int = 0, total: int | None = None, costs=None):
        super().__init__()
        self.start, self.total, self.costs = start, total, costs

    def set_params(self, params):
        super().set_params(params)
        if self.total is not None:
            self.target = self.total

    def _maybe_init_progbar(self):
        if self.progbar is None:
            self.progbar = _Progbar(
                target=self.target,
                verbose=self.verbose,
                unit_name="step",
                stateless_metrics=set(),
                start=self.start,
                costs=None if self.costs is None else np.cumsum([0.0, *self.costs]),
            )

    @staticmethod
    def _shown(logs):
        return {
            key: _Shown(np.asarray(value).sum())
            for key, value in (logs or {}).items()
            if key in PROGRESS_KEYS
        }

    def _update_progbar(self, batch, logs=None):
        super()._update_progbar(batch + self.start, self._shown(logs))

    def _finalize_progbar(self, logs):
        logs = self._shown(logs)
        if self.progbar is None or self.target is None or self.seen >= self.target:
            super()._finalize_progbar(logs)
            return
        # Stopped early (Ctrl-C, a NaN): the bar ends where the painting did, not full.
        self.progbar.update(self.seen, list(logs.items()), finalize=True)


def _write_hparams(values: dict, trial_id: str) -> None:
    """The run's HParams, with the metric columns declared rather than inferred.

    Declared metrics are what makes the values show both with `tensorboard --logdir` at the
    runs' parent and at the run itself: inferred, a run at the root gets the metric group "."
    and the dashboard finds no values for it.
    """
    from tensorboard.plugins.hparams import api as hp

    hp.hparams_config(
        hparams=[hp.HParam(name) for name in values],
        metrics=[hp.Metric(tag) for tag in HPARAMS_METRICS],
    )
    hp.hparams(values, trial_id=trial_id)


def run_hparams(model, variant_index: int = 0) -> dict:
    """The settings of a `StyleTransferModel` run as HParams values (str, int, float, bool).

    Every setting of `keras_nst.settings` that declares an HParams form is there (a task with
    variants is described by one variant's settings, the first by default), with the
    optimizer as compiled, the weight source, and `num_variants`.
    """
    from keras_nst import settings as settings_lib

    task = model.task
    variant = task.variants[variant_index]
    values = {}
    for setting in settings_lib.SETTINGS:
        if setting.hparam is None:
            continue
        if setting.variant:
            values[setting.name] = setting.hparam(getattr(variant, setting.name))
        elif setting.group == "model":
            values[setting.name] = setting.hparam(getattr(model, setting.name))
    values["size"] = max(task.height, task.width)
    optimizer = model.optimizer
    values["optimizer"] = type(optimizer).__name__ if optimizer is not None else "none"
    values["learning_rate"] = (
        float(ops.convert_to_numpy(optimizer.learning_rate)) if optimizer is not None else 0.0
    )
    weights = model.weights_source
    values["weights"] = "random" if weights is None else os.path.basename(os.fspath(weights))
    values["num_variants"] = task.num_variants
    return values


#: Longest side of the images written to TensorBoard (a 4096 px painting would be a 50 MB PNG
#: in every event file, and the dashboard shows it downsized anyway).
DASHBOARD_SIZE = 1024


def for_dashboard(images: np.ndarray) -> np.ndarray:
    """`uint8` images downsized (area average) to at most `DASHBOARD_SIZE` px on a side."""
    height, width = images.shape[1:3]
    if max(height, width) <= DASHBOARD_SIZE:
        return images
    scale = DASHBOARD_SIZE / max(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    resized = tf.image.resize(tf.cast(images, tf.float32), size, method="area", antialias=True)
    return np.clip(np.rint(resized.numpy()), 0, 255).astype(np.uint8)


class StyleTensorBoard(keras.callbacks.Callback):
    """Writes a painting's losses, images and settings to TensorBoard.

    Per optimisation step: `loss`, `content_loss`, `style_loss`, `style_loss/<layer>` for every
    style layer, `total_variation_loss` when used, and `learning_rate`. Every `image_every`
    steps and when `fit` ends: the current image of each variant (`image`, one sample per
    variant, downsized to at most `DASHBOARD_SIZE` px). Once per run: the run's settings
    through TensorBoard's HParams plugin; its metrics are the loss tags above, so the HParams
    dashboard compares runs by their final losses side by side.

    Steps are the optimizer's iteration count, so a second `fit` continues the curves. It
    writes only from the host, so it works under a distribution strategy and next to
    `keras.callbacks.TensorBoard` (which writes to `log_dir/train`; this one to `log_dir`).

    Args:
        log_dir: the run's directory, e.g. `"logs/starry_night_adam"`. Defaults to
            `logs/<model name>`.
        image_every: write images every this many steps (`None`: only at the end).
        hparams: whether to write the HParams summary.

    Example:

    >>> model.fit(task, epochs=3, steps_per_epoch=100,
    ...           callbacks=[keras_nst.callbacks.StyleTensorBoard("logs/run1", image_every=50)])
    """

    def __init__(
        self,
        log_dir: str | os.PathLike | None = None,
        image_every: int | None = 100,
        hparams: bool = True,
    ):
        super().__init__()
        if image_every is not None and (
            isinstance(image_every, bool) or not isinstance(image_every, int) or image_every <= 0
        ):
            raise ValueError(
                "`image_every` must be a positive integer or None. "
                f"Received: image_every={image_every!r}"
            )
        self.log_dir = None if log_dir is None else os.fspath(log_dir)
        self.image_every = image_every
        self.hparams = hparams
        self._writer = None
        self._last_image_step = None

    def _step(self) -> int:
        return int(ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_train_begin(self, logs=None):
        if self.log_dir is None:
            self.log_dir = os.path.join(DEFAULT_LOG_ROOT, self.model.name)
        self._writer = tf.summary.create_file_writer(self.log_dir)
        if self.hparams:
            with self._writer.as_default():
                _write_hparams(run_hparams(self.model), os.path.basename(self.log_dir))
        self._last_image_step = None

    def on_train_batch_end(self, batch, logs=None):
        step = self._step()
        with self._writer.as_default(step=step):
            for name, value in (logs or {}).items():
                tf.summary.scalar(name, float(np.asarray(value)))
            learning_rate = ops.convert_to_numpy(self.model.optimizer.learning_rate)
            tf.summary.scalar("learning_rate", float(learning_rate))
        if self.image_every and step % self.image_every == 0:
            self._write_images(step)

    def _write_images(self, step: int):
        with self._writer.as_default(step=step):
            tf.summary.image(
                "image",
                for_dashboard(self.model.images()),
                max_outputs=self.model.task.num_variants,
            )
        self._last_image_step = step

    def on_train_end(self, logs=None):
        step = self._step()
        if self._last_image_step != step:
            self._write_images(step)
        self._writer.flush()
        self._writer.close()
        self._writer = None


def write_variant_runs(model, log_dir: str | os.PathLike, labels: list[str]) -> None:
    """One TensorBoard run per variant, `log_dir/<label>`: its HParams, final losses and image.

    A fit of several variants logs their sums; this makes each variant a session of its own
    in the HParams dashboard, compared by its final `loss`, `content_loss` and `style_loss`.
    """
    step = int(ops.convert_to_numpy(model.optimizer.iterations))
    losses = model.variant_losses()
    images = model.images()
    for index, label in enumerate(labels):
        writer = tf.summary.create_file_writer(os.path.join(os.fspath(log_dir), label))
        with writer.as_default(step=step):
            _write_hparams(run_hparams(model, index), label)
            for key in ("loss", "content_loss", "style_loss"):
                tf.summary.scalar(key, float(losses[key][index]))
            tf.summary.image("image", for_dashboard(images[index : index + 1]))
        writer.close()


# === Guards ===


class StopOnSignal(keras.callbacks.Callback):
    """The first SIGINT or SIGTERM stops `fit` cleanly after the current step; a second one
    aborts at once (`KeyboardInterrupt`). Files written atomically stay intact either way.

    After `fit`, `signal_received` holds the signal's number (or `None`).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        super().__init__()
        self.signal_received = None
        self._previous = {}

    def _handle(self, number, frame):
        if self.signal_received is not None:
            raise KeyboardInterrupt
        self.signal_received = number
        if self.model is not None:
            self.model.stop_training = True

    def on_train_begin(self, logs=None):
        self.signal_received = None
        with contextlib.suppress(ValueError):  # only the main thread may set handlers
            for number in self.SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)

    def on_train_batch_end(self, batch, logs=None):
        if self.signal_received is not None:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops `fit` when any logged loss becomes NaN or Inf, and puts back the last good image.

    A step logs the losses of the image it started from, so an image counts as good once the
    next step has logged finite losses for it. After `fit`, `bad_losses` names the losses
    that went bad (empty if none) and `bad_step` the step.
    """

    def __init__(self):
        super().__init__()
        self.bad_losses: list[str] = []
        self.bad_step = None
        self._last_good = None
        self._unchecked = None

    def on_train_begin(self, logs=None):
        self.bad_losses, self.bad_step = [], None
        self._last_good = None
        self._unchecked = self.model.state_arrays()

    def on_train_batch_begin(self, batch, logs=None):
        if self._unchecked["image"].shape != tuple(self.model.image.shape):
            # A schedule moved to a new stage: its first image is the last one, resized.
            self._unchecked = self.model.state_arrays()
            self._last_good = self._unchecked

    def on_train_batch_end(self, batch, logs=None):
        bad = [key for key, value in (logs or {}).items() if not np.all(np.isfinite(value))]
        if bad:
            self.bad_losses = sorted(bad)
            self.bad_step = int(ops.convert_to_numpy(self.model.optimizer.iterations))
            self.model.assign_state_arrays(
                self._last_good if self._last_good is not None else self._unchecked
            )
            self.model.stop_training = True
        else:
            self._last_good = self._unchecked
            self._unchecked = self.model.state_arrays()
