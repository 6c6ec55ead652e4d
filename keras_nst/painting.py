"""The painting use case: `keras_nst.stylize(task, ...)` does everything a painting needs.

It checks every output location against the task's inputs before anything starts, checks
memory, builds the model, resumes from a checkpoint, runs the schedule's stages in one `fit`
with the guards (Ctrl-C and SIGTERM stop after a step, a NaN or Inf keeps the last good
image), checkpoints, logs to TensorBoard, and saves the result. The command line, the
experiments, the examples and the benchmarks all paint through it.

`check()` is TensorFlow-free, so the command line runs it before TensorFlow starts.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_nst import images, memory, paths
from keras_nst import settings as settings_lib
from keras_nst import weights as weights_lib
from keras_nst.precision import resolve_precision_on_cpu
from keras_nst.schedule import Schedule
from keras_nst.task import StyleTask

#: Settings `stylize` takes besides the task's (from `keras_nst.settings`).
PAINTING_SETTINGS = settings_lib.group("model") + settings_lib.group("painting")


@dataclasses.dataclass
class Painting:
    """What a painting produced, and how it ended.

    Attributes:
        images: `uint8` `(num_variants, H, W, 3)`: the painted images.
        model: the `StyleTransferModel`, to paint on or to inspect.
        history: Keras' `History` of the `fit` (`None` if no step was left to take).
        steps: optimisation steps done in all (a resumed run counts the earlier ones).
        seconds: wall time of this call.
        output: the image file written, if any.
        checkpoint_dir: where checkpoints went, if anywhere.
        stopped_by: `None` when the painting ran to its end; `"SIGINT"` or `"SIGTERM"` when
            a signal stopped it after a step; `"non-finite"` when a loss became NaN or Inf.
        bad_losses: for `"non-finite"`, the losses that went bad (the image is the last one
            whose losses were finite).
        bad_step: for `"non-finite"`, the step at which they did.
    """

    images: np.ndarray
    model: Any
    history: Any
    steps: int
    seconds: float
    output: Path | None = None
    checkpoint_dir: Path | None = None
    stopped_by: str | None = None
    bad_losses: list[str] = dataclasses.field(default_factory=list)
    bad_step: int | None = None

    @property
    def signal_number(self) -> int | None:
        """The signal that stopped the painting, if one did."""
        return (
            getattr(signal, self.stopped_by) if self.stopped_by in ("SIGINT", "SIGTERM") else None
        )


def painting_settings(values: dict) -> dict:
    """`values` checked, with the defaults of the settings not given."""
    return _settings(values)


def _settings(values: dict) -> dict:
    valid = [setting.name for setting in PAINTING_SETTINGS]
    settings_lib.check_known(values, valid, "stylize")
    checked = {}
    for setting in PAINTING_SETTINGS:
        value = values.get(setting.name, setting.default)
        checked[setting.name] = setting.check(value, setting.name)
    weights_lib.check_weights(checked["weights"], allow_auto=True)
    if checked["weights"] == "random":  # one vocabulary with the command line
        checked["weights"] = None
    return checked


def input_files(
    task: StyleTask, weights=None, resume_from: Path | None = None
) -> list[tuple[str, Any]]:
    """The files a painting reads, as (argument, path): no output may replace one."""
    files = []
    if isinstance(task.content, (str, os.PathLike)):
        files.append(("content", task.content))
    styles = task.style if isinstance(task.style, (list, tuple)) else [task.style]
    names = ["style"] if len(styles) == 1 else [f"style[{i}]" for i in range(len(styles))]
    files += [(name, s) for name, s in zip(names, styles) if isinstance(s, (str, os.PathLike))]
    init = task.get_config()["init"]
    if isinstance(init, (str, os.PathLike)) and init not in settings_lib.INIT_MODES:
        files.append(("init", init))
    for variant in task.get_config()["variants"]:
        value = variant.get("init")
        if isinstance(value, (str, os.PathLike)) and value not in settings_lib.INIT_MODES:
            files.append(("init", value))
    if isinstance(weights, (str, os.PathLike)) and weights not in ("auto", "imagenet"):
        files.append(("weights", weights))
    if resume_from is not None:
        files.append(("resume", resume_from / paths.CHECKPOINT_FILE))
    return files


def default_schedule(task: StyleTask, values: dict) -> Schedule:
    """The stages a painting's settings ask for: coarse to fine from `min_size` (see
    `Schedule.coarse_to_fine`), or one stage when `min_size` is 0/None.

    `min_size` is the first scale's longest side; a scale whose shorter side is too small
    for the deepest layer (a panorama's, say) is left out: the painting starts at the first
    scale the layers can see."""
    if task.size is None:  # painted at the photo's own size: one stage
        return Schedule.single(max(task.height, task.width), values["steps"])
    stages = schedule_for(task.size, values).stages
    while len(stages) > 1 and not _paints_at(task, stages[0].size):
        stages = stages[1:]
    return Schedule(stages)


def _paints_at(task: StyleTask, size: int) -> bool:
    try:
        task.at_size(size)
    except ValueError:
        return False
    return True


def schedule_for(size: int, values: dict) -> Schedule:
    """The stages the checked painting settings `values` ask for at `size` pixels."""
    scale_optimizer = values["scale_optimizer"]
    if scale_optimizer == values["optimizer"]:  # the same name: one optimizer throughout
        scale_optimizer = None
    return Schedule.coarse_to_fine(
        size,
        values["steps"],
        min_size=values["min_size"],
        ratio=values["scale_ratio"],
        scale_steps=values["scale_steps"],
        scale_optimizer=scale_optimizer,
    )


def stage_optimizer(schedule: Schedule, index: int, values: dict, *, switch_only: bool = False):
    """The optimizer stage `index` of `schedule` paints with (its own, or the painting's
    `optimizer` and `learning_rate` from the checked `values`), its state counting from the step
    at which it took over (`optimizers.starting_at`): an optimizer carried over from stage to
    stage counts from the first stage of the run that paints with it; L-BFGS, whose history
    starts afresh on every canvas, from its stage's start. The painting's `optimizer`, taking
    over from a stage optimizer without a `learning_rate` given, starts at its
    `settings_lib.TAKEOVER_LEARNING_RATES` rate.

    With `switch_only`, `None` unless the stage names another optimizer than the stage before
    it (what `schedule.follow` asks at a stage's start: `None` carries the current one over).
    """
    from keras_nst import optimizers

    stages = schedule.stages
    if switch_only and (index == 0 or stages[index].optimizer == stages[index - 1].optimizer):
        return None
    name = stages[index].optimizer
    optimizer = (
        optimizers.get(name)
        if name
        else optimizers.get(values["optimizer"], values["learning_rate"])
    )
    first = index
    if not optimizers.restarts_each_stage(optimizer):
        while first > 0 and stages[first - 1].optimizer == name:
            first -= 1
    takes_over = first > 0 and stages[first - 1].optimizer != name
    if (
        takes_over
        and not name
        and values["learning_rate"] is None
        and isinstance(values["optimizer"], str)
    ):
        rate = settings_lib.TAKEOVER_LEARNING_RATES.get(values["optimizer"])
        optimizer = optimizers.get(values["optimizer"], rate) if rate else optimizer
    start = schedule.starts()[first]
    return optimizer if start == 0 else optimizers.starting_at(optimizer, start)


def _schedule(task: StyleTask, values: dict, schedule: Schedule | None) -> Schedule:
    if schedule is None:
        return default_schedule(task, values)
    if not isinstance(schedule, Schedule):
        raise ValueError(
            "`schedule` must be a keras_nst.schedule.Schedule or None. "
            f"Received: schedule={schedule!r}"
        )
    if task.size is None:
        raise ValueError("`schedule` needs a task with a `size`. Received: size=None")
    for stage in schedule.stages:
        task.at_size(stage.size)  # each stage's images must be large enough for the layers
    return schedule


def build_model(
    task: StyleTask,
    *,
    strategy=None,
    extractor=None,
    schedule: Schedule | None = None,
    stage: int = 0,
    terms=None,
    tiles: list[int] | None = None,
    **settings,
):
    """The compiled `StyleTransferModel` `stylize` paints with (for code that drives `fit`
    itself, such as the benchmarks).

    Args:
        task: the task, at the size to paint.
        strategy: a `tf.distribute.Strategy` to build under.
        extractor: a ready extractor to share.
        schedule: the stages the model will paint (for the optimizer, and for the tiles:
            each stage's size and optimizer must fit), if not one stage at the task's size.
        stage: the index of the stage in `schedule` the model starts in (a resumed run's):
            it is compiled with that stage's optimizer (`stage_optimizer`).
        terms: the loss terms, if not the task's own (`keras_nst.terms.default_terms`).
        tiles: each stage's `tile` (`stage_tiles`), when already planned: the model starts
            with `tiles[stage]` (a `follow`-ed schedule sets each next one) and keeps them
            all as `model.stage_tiles`.
        **settings: the model's and the painting's settings, as for `stylize`.
    """
    import contextlib

    from keras_nst import optimizers
    from keras_nst.model import StyleTransferModel

    values = _settings(settings)
    tiles = tiles if tiles is not None else stage_tiles(task, values, schedule)
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = StyleTransferModel(
            task,
            weights=weights_lib.resolve_weights(values["weights"]),
            pooling=values["pooling"],
            precision=values["precision"],
            padding=values["padding"],
            average=values["average"],
            tile=tiles[min(stage, len(tiles) - 1)],
            tile_cut=values["tile_cut"],
            max_memory=values["max_memory"],
            extractor=extractor,
            terms=terms,
        )
        # What `follow` sets at each stage, for whoever reports the plan (the command line).
        model.stage_tiles = tuple(tiles)
        if schedule is None:
            optimizer = optimizers.get(values["optimizer"], values["learning_rate"])
        else:
            optimizer = stage_optimizer(schedule, stage, values)
        model.compile(optimizer=optimizer)
    return model


def _resume_directory(resume, checkpoint_dir) -> Path | None:
    if resume is True:
        return None if checkpoint_dir is None else Path(checkpoint_dir)
    if resume in (False, None):
        return None
    return Path(resume)


def stage_tiles(
    task: StyleTask, values: dict, schedule: Schedule | None = None, available=None
) -> list[int]:
    """The model's `tile` in each stage of `schedule` (one entry without a schedule): the
    setting when given, else the largest crop that fits the memory (`max_memory` or what is
    available) at the stage's size with its optimizer, 0 where the stage fits whole.

    Raises:
        ValueError: a stage that cannot fit even tile by tile (or, with `tile=0`, whole).
    """
    final = _optimizer_name(values)
    stages = schedule.stages if schedule is not None and task.size else ()
    cases = {(stage.size, stage.optimizer or final): None for stage in stages} or {
        (None, final): None
    }
    estimate = dict(
        precision=resolve_precision_on_cpu(values["precision"]),
        available=available or values["max_memory"],
    )
    # The painting's own optimizer first, largest first: what cannot fit at all is refused
    # for its `size`.
    for size, name in sorted(cases, key=lambda case: (case[1] != final, -(case[0] or 0))):
        case = task if size is None else task.at_size(size)
        if values["tile"] is None:
            tile = memory.plan_tile(case, optimizer=name, scale_optimizer=name != final, **estimate)
            cases[size, name] = tile or 0
        elif values["tile"] == 0:  # never tile: refuse what does not fit whole
            memory.check_fits(case, optimizer=name, **estimate)
    if values["tile"] is not None:
        return [values["tile"]] * max(1, len(stages))
    return [cases[stage.size, stage.optimizer or final] for stage in stages] or [cases[None, final]]


def _optimizer_name(values: dict) -> str:
    """The optimizer's name for the memory estimates; an instance is estimated as its kind
    (an `LBFGS` instance keeps L-BFGS' copies of the image, not Adam's)."""
    optimizer = values["optimizer"]
    if isinstance(optimizer, str):  # no Keras needed: the command line checks before it starts
        return optimizer
    from keras_nst import optimizers

    return optimizers.name_of(optimizer)


def check(
    task: StyleTask,
    *,
    output: str | os.PathLike | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool | str | os.PathLike = False,
    log_dir: str | os.PathLike | None = None,
    overwrite: bool = True,
    reads: Sequence[tuple[str, Any]] = (),
    schedule: Schedule | None = None,
    available: int | None = None,
    **settings,
) -> dict:
    """Everything `stylize` checks before it starts, without TensorFlow and without writing.

    Arguments as for `stylize`; `reads` names more files the run reads, as (argument, path),
    and `available` overrides the memory available (bytes). Returns the checked settings.

    Raises:
        ValueError: a bad setting, an output that is (or holds) an input, an output location
            that cannot be written, a checkpoint directory in use, or a painting too large.
    """
    values = _settings(settings)
    if output is not None and task.num_variants > 1:
        raise ValueError(
            f"`output` names one image, and this task paints {task.num_variants} (variants); "
            f"save `Painting.images` yourself. Received: output='{output}'"
        )
    resume_from = _resume_directory(resume, checkpoint_dir)
    if resume_from is not None:
        checkpoint = resume_from / paths.CHECKPOINT_FILE
        if not os.path.lexists(checkpoint):
            raise ValueError(
                f"`resume` directory holds no {paths.CHECKPOINT_FILE}. "
                f"Received: resume='{resume_from}'"
            )
        paths.check_input_file(checkpoint, "resume", "checkpoint file")
        checkpoint_dir = resume_from
    inputs = list(reads) + input_files(task, values["weights"], resume_from)
    refuse = None if overwrite else "overwrite=False"
    files, directories = [], []
    if output is not None:
        images.check_output_path(output, "output", inputs=inputs, refuse_existing=refuse)
        files.append(("output", output))
    if checkpoint_dir is not None:
        checkpoint_dir = Path(checkpoint_dir)
        paths.check_output_directory(
            checkpoint_dir,
            "checkpoint_dir",
            inputs=inputs,
            may_hold=inputs[-1:] if resume_from else (),
        )
        paths.check_not_in_use(checkpoint_dir, "checkpoint_dir")
        if (
            not overwrite
            and not resume_from
            and os.path.exists(checkpoint_dir / paths.CHECKPOINT_FILE)
        ):
            raise ValueError(
                f"`checkpoint_dir` already holds a checkpoint and {refuse} asks not to replace "
                f"it (resume='{checkpoint_dir}' continues it). "
                f"Received: checkpoint_dir='{checkpoint_dir}'"
            )
        directories.append(("checkpoint_dir", checkpoint_dir))
    if log_dir is not None:
        paths.check_output_directory(log_dir, "log_dir", inputs=inputs)
        if not overwrite and not resume_from and paths.earlier_events(log_dir):
            raise ValueError(
                f"`log_dir` holds the TensorBoard events of an earlier run and {refuse} asks "
                f"not to replace them (a resumed painting continues them). "
                f"Received: log_dir='{log_dir}'"
            )
        directories.append(("log_dir", log_dir))
    paths.check_distinct(files, directories)
    schedule = _schedule(task, values, schedule)
    stage_tiles(task, values, schedule, available)  # refuses only what cannot fit at all
    return values


def stylize(
    task: StyleTask,
    *,
    output: str | os.PathLike | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool | str | os.PathLike = False,
    log_dir: str | os.PathLike | None = None,
    overwrite: bool = True,
    reads: Sequence[tuple[str, Any]] = (),
    schedule: Schedule | None = None,
    callbacks: Sequence = (),
    strategy=None,
    extractor=None,
    verbose: Any = "auto",
    **settings,
) -> Painting:
    """Paints `task` from start to end, with every guard a long painting needs.

    Args:
        task: the `StyleTask`.
        output: image file to write the result to (one variant only), atomically; also
            written when a signal or a NaN stops the painting early.
        checkpoint_dir: where to checkpoint (every `checkpoint_every` steps and at the end);
            `None` for no checkpoints. The directory is held for the run: a second run
            given the same one is refused.
        resume: `True` to continue from the checkpoint in `checkpoint_dir`, or a directory
            to continue from (it then becomes the checkpoint directory). The task and
            settings must be those of the checkpoint; `steps` is the total.
        log_dir: TensorBoard run directory (`StyleTensorBoard`), or `None`.
        overwrite: `False` refuses an existing `output` or checkpoint instead of replacing it.
            An input is never replaced either way.
        reads: more files the run reads, as (argument, path), that no output may replace
            (the task and weight files are known already).
        schedule: the stages to paint (`keras_nst.schedule.Schedule`); by default those the
            settings ask for (`default_schedule`: coarse to fine from `min_size`, the smaller
            scales painted with `scale_optimizer`).
        callbacks: more Keras callbacks for the `fit`.
        strategy: a `tf.distribute.Strategy` to paint under (variants are spread over its
            replicas).
        extractor: a ready extractor to share (see `StyleTransferModel`).
        verbose: Keras' progress output.
        **settings: the model's and the painting's settings (`keras_nst.settings`: `steps`,
            `optimizer`, `learning_rate`, `scale_optimizer`, `min_size`, `weights` (also
            `"auto"`), `pooling`, `precision`, `checkpoint_every`, `image_every`, ...).

    Returns:
        A `Painting`.

    Raises:
        ValueError: bad settings or paths (before anything starts), or a checkpoint of
            another painting.
        WeightsUnavailableError: ImageNet weights were asked for and cannot be had.
        WriteError: an output or a checkpoint could not be written (e.g. a full disk).
    """
    import keras

    from keras_nst.checkpoints import painting_identity, read_checkpoint
    from keras_nst.schedule import follow

    started = time.perf_counter()
    check(
        task,
        output=output,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        log_dir=log_dir,
        overwrite=overwrite,
        reads=reads,
        schedule=schedule,
        **settings,
    )
    values = _settings(settings)
    resume_from = _resume_directory(resume, checkpoint_dir)
    if resume_from is not None:
        checkpoint_dir = resume_from
    schedule = _schedule(task, values, schedule)
    done = read_checkpoint(resume_from)[1]["step"] if resume_from is not None else 0
    index = schedule.locate(done)[0]
    tiles = stage_tiles(task, values, schedule)
    model = build_model(
        task.at_size(schedule.stages[index].size) if task.size else task,
        strategy=strategy,
        extractor=extractor,
        schedule=schedule,
        stage=index,
        tiles=tiles,
        **settings,
    )
    identity = {
        **painting_identity(model),
        "task": task.fingerprint(),
        "schedule": schedule.identity(),
    }

    def optimizer_for(index):
        return stage_optimizer(schedule, index, values, switch_only=True)

    history, stopped_by, guard = run_guarded(
        model,
        lambda guard: follow(schedule, task, optimizer_for, tiles.__getitem__),
        total_steps=schedule.total_steps,
        done=done,
        checkpoint_dir=checkpoint_dir,
        resume_from=resume_from,
        identity=identity,
        log_dir=log_dir,
        values=values,
        callbacks=callbacks,
        verbose=verbose,
        costs=schedule.step_costs(),
    )
    painted = model.images()
    written = None
    if output is not None:
        written = images.save_image(output, painted[0], alpha=task.content_alpha)
    return Painting(
        images=painted,
        model=model,
        history=history,
        steps=int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        seconds=time.perf_counter() - started,
        output=written,
        checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir),
        stopped_by=stopped_by,
        bad_losses=guard.bad_losses,
        bad_step=guard.bad_step,
    )


def run_guarded(
    model,
    follower,
    *,
    total_steps: int,
    done: int,
    checkpoint_dir,
    resume_from,
    identity: dict,
    log_dir,
    values: dict,
    callbacks: Sequence = (),
    verbose: Any = "auto",
    costs: Sequence[float] | None = None,
):
    """The steps of a painting from `done` to `total_steps` in one `fit`, with the guards,
    checkpoints (restored first when resuming) and TensorBoard: what `stylize` and
    `stylize_video` share.

    Args:
        model: the compiled model.
        follower: `follower(guard) -> callback` that moves the model through its stages (it
            runs after the guards and before the checkpoint, which then records where the
            painting is).
        values: the checked painting settings (`checkpoint_every`, `image_every`).
        costs: each step's relative cost (`Schedule.step_costs`), for the time left.

    Returns:
        `(history, stopped_by, guard)`: Keras' `History` (`None` if no step was left),
        `None` / `"SIGINT"` / `"SIGTERM"` / `"non-finite"`, and the NaN guard.
    """
    import keras

    from keras_nst.callbacks import (
        StopOnNonFinite,
        StopOnSignal,
        StyleProgbarLogger,
        StyleTensorBoard,
        replace_earlier_events,
    )
    from keras_nst.checkpoints import StyleCheckpoint

    stop, guard = StopOnSignal(), StopOnNonFinite()
    # The guards come first: they stop fit (and fix the image) before anything is saved.
    all_callbacks = [stop, guard, follower(guard)]
    if checkpoint_dir is not None:
        checkpoint = StyleCheckpoint(
            checkpoint_dir, every=values["checkpoint_every"], identity=identity
        )
        if resume_from is not None:
            checkpoint.restore(model)
        all_callbacks.append(checkpoint)
    if log_dir is not None:
        if resume_from is None:  # a new run replaces an earlier one's curves; a resumed one adds
            replace_earlier_events(log_dir)
        all_callbacks.append(StyleTensorBoard(log_dir, image_every=values["image_every"]))
    all_callbacks += list(callbacks)
    if not any(isinstance(c, keras.callbacks.ProgbarLogger) for c in all_callbacks):
        all_callbacks.append(StyleProgbarLogger(start=done, total=total_steps, costs=costs))
    history = None
    if total_steps > done:
        history = model.fit(
            epochs=1, steps_per_epoch=total_steps - done, callbacks=all_callbacks, verbose=verbose
        )
    stopped_by = None
    if guard.bad_losses:
        stopped_by = "non-finite"
    elif stop.signal_received is not None:
        stopped_by = signal.Signals(stop.signal_received).name
    return history, stopped_by, guard


def _signature(function, settings) -> inspect.Signature:
    """A signature with one keyword per setting, for `help()` and editors."""
    parameters = [
        p for p in inspect.signature(function).parameters.values() if p.kind != p.VAR_KEYWORD
    ]
    parameters += [
        inspect.Parameter(s.name, inspect.Parameter.KEYWORD_ONLY, default=s.default)
        for s in settings
    ]
    return inspect.Signature(parameters)


stylize.__signature__ = _signature(stylize, PAINTING_SETTINGS)
check.__signature__ = _signature(check, PAINTING_SETTINGS)
