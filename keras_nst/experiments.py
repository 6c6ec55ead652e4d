"""The seed report's experiments, one call each: `run_experiment("ratio", content, style)`.

Sweeps that change only weights, layers, init or seed run as variants of one fit (one image
per variant, painted together); pooling, optimizer and image sweeps run as separate fits.
Each writes the images, a labelled contact sheet (the grid of Gatys et al.'s Figure 2) and
TensorBoard runs with HParams.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from keras_nst import presets
from keras_nst.images import save_image
from keras_nst.paths import CHECKPOINT_FILE
from keras_nst.settings import split_task_settings
from keras_nst.sheets import contact_sheet
from keras_nst.task import DEFAULT_STYLE_LAYERS, StyleTask

PAPER_STYLE_LAYERS = tuple(DEFAULT_STYLE_LAYERS)


@dataclasses.dataclass
class Run:
    """One image of an experiment.

    Attributes:
        label: its column label on the contact sheet.
        task: `StyleTask` settings it overrides (any of `VARIANT_KEYS`, or `content`/`style`).
        pooling: overrides the experiment's pooling.
        optimizer: overrides the experiment's optimizer.
    """

    label: str
    task: dict = dataclasses.field(default_factory=dict)
    pooling: str | None = None
    optimizer: str | None = None

    @property
    def needs_own_fit(self) -> bool:
        return bool(
            self.pooling or self.optimizer or "content" in self.task or "style" in self.task
        )


@dataclasses.dataclass
class Experiment:
    """A named set of runs; `varies` names what changes from column to column."""

    name: str
    title: str
    varies: str
    runs: list[Run]


def _one_hot(layer: str) -> dict[str, float]:
    return {layer: 1.0}


def _weights(values: Sequence[float]) -> dict[str, float]:
    return dict(zip(PAPER_STYLE_LAYERS, values))


#: Combined per-layer weights of experiment 4 (conv1_1 ... conv5_1).
LAYER_WEIGHT_SETS = (
    (0.2, 0.2, 0.2, 0.2, 0.2),
    (0.3, 0.1, 0.2, 0.3, 0.1),
    (0.5, 0.2, 0.1, 0.1, 0.1),
    (0.1, 0.1, 0.1, 0.2, 0.5),
)


def _name(path: Any) -> str:
    return Path(os.fspath(path)).stem if isinstance(path, (str, os.PathLike)) else "image"


def experiment(name: str, *, contents: Sequence = (), styles: Sequence = ()) -> Experiment:
    """The runs of one of the report's experiments (see `EXPERIMENTS`).

    Args:
        name: a key of `EXPERIMENTS`.
        contents: content images, for `"content"` (several content images).
        styles: style images, for `"style"` (several style images).
    """
    if name == "ratio":
        runs = [Run(f"beta={w:g}", {"style_weight": w}) for w in (10.0**e for e in range(1, 8))]
        return Experiment(name, "1. content/style weight ratio (alpha = 10)", "style weight", runs)
    if name == "content_layer":
        layers = [f"block{b}_conv2" for b in range(1, 6)]
        runs = [Run(layer, {"content_layers": _one_hot(layer)}) for layer in layers]
        return Experiment(name, "2. content layer", "content layer", runs)
    if name == "style_layer":
        runs = [Run(layer, {"style_layers": _one_hot(layer)}) for layer in PAPER_STYLE_LAYERS]
        return Experiment(name, "3. one style layer at a time", "style layer", runs)
    if name == "layer_weights":
        runs = [
            Run("[" + ", ".join(f"{v:g}" for v in values) + "]", {"style_layers": _weights(values)})
            for values in LAYER_WEIGHT_SETS
        ]
        return Experiment(
            name, "4. style layer weights (conv1_1 ... conv5_1)", "layer weights", runs
        )
    if name == "pooling":
        runs = [Run(f"{pooling} pooling", pooling=pooling) for pooling in ("avg", "max")]
        return Experiment(name, "5. max against average pooling", "pooling", runs)
    if name == "optimizer":
        runs = [Run(o, optimizer=o) for o in ("adam", "rmsprop", "lbfgs")]
        return Experiment(name, "6. optimizer", "optimizer", runs)
    if name == "content":
        runs = [Run(_name(image), {"content": image}) for image in contents]
        return Experiment(name, "7. content images", "content image", runs)
    if name == "style":
        runs = [Run(_name(image), {"style": image}) for image in styles]
        return Experiment(name, "8. style images", "style image", runs)
    if name == "init":
        runs = [Run(init, {"init": init}) for init in ("noise", "content+noise", "content")]
        return Experiment(name, "9. initial image", "initial image", runs)
    raise ValueError(f"`experiment` must be one of {EXPERIMENTS}. Received: experiment={name!r}")


#: The report's experiments, by name.
EXPERIMENTS = (
    "ratio",
    "content_layer",
    "style_layer",
    "layer_weights",
    "pooling",
    "optimizer",
    "content",
    "style",
    "init",
)


@dataclasses.dataclass
class ExperimentResult:
    """What an experiment painted.

    Attributes:
        experiment: the `Experiment`.
        labels: its runs' labels.
        images: `uint8` `(H, W, 3)` per run (runs of an unfinished sweep are missing).
        seconds: wall time of the painting that made each run.
        losses: each run's final total loss.
        sheet: the contact sheet's path (`None` if the sweep stopped early).
        image_paths: the runs' image files.
        stopped_by: as `Painting.stopped_by`, for the fit that stopped the sweep.
        bad_losses: for a NaN or Inf, the losses that went bad.
    """

    experiment: Experiment
    labels: list[str]
    images: list
    seconds: list[float]
    losses: list[float]
    sheet: Path | None
    image_paths: list[Path]
    stopped_by: str | None = None
    bad_losses: list[str] = dataclasses.field(default_factory=list)

    @property
    def signal_number(self) -> int | None:
        import signal

        return (
            getattr(signal, self.stopped_by) if self.stopped_by in ("SIGINT", "SIGTERM") else None
        )


#: The labelled grid of an experiment's images, in its output directory.
CONTACT_SHEET = "contact_sheet.png"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", text).strip("_") or "run"


def run_output_name(label: str) -> str:
    """The file name of a run's image in the experiment's output directory."""
    return f"{_slug(label)}.png"


def experiment_labels(exp: Experiment) -> list[str]:
    return [run.label for run in exp.runs]


def plan_experiment(
    name: str | Experiment,
    content,
    style,
    *,
    contents: Sequence = (),
    styles: Sequence = (),
    **task_kwargs,
) -> tuple[Experiment, list[tuple[list[Run], StyleTask]]]:
    """The experiment's fits, each a group of runs and the `StyleTask` that paints them.

    Runs that differ only in `VARIANT_KEYS` share one fit as variants; the others get a fit
    each. Every task is built (images loaded, settings checked) here, before any fit starts,
    and without TensorFlow.

    Raises:
        ValueError: an unknown experiment, or any bad task setting or image.
    """
    exp = (
        name
        if isinstance(name, Experiment)
        else experiment(name, contents=[content, *contents], styles=[style, *styles])
    )
    if not exp.runs:
        raise ValueError(f"`experiment` {exp.name!r} has no runs.")
    shared = [run for run in exp.runs if not run.needs_own_fit]
    groups = ([shared] if shared else []) + [[run] for run in exp.runs if run.needs_own_fit]
    planned = []
    for group in groups:
        settings = {"content": content, "style": style, **task_kwargs, **group[0].task}
        settings["variants"] = [run.task for run in group[1:]] or None
        planned.append((group, StyleTask(**settings)))
    return exp, planned


def checkpoint_root(output_dir: str | os.PathLike) -> Path:
    """Where a sweep keeps its fits' checkpoints: beside its folder, as `stylize` does."""
    output_dir = Path(output_dir)
    return output_dir.with_name(output_dir.name + ".checkpoints")


def _fit_name(group: list[Run]) -> str:
    return _slug(group[0].label) + (f"+{len(group) - 1}" if len(group) > 1 else "")


#: The report's experiments reproduce the paper: its arithmetic and weights (alpha = 10,
#: beta = 1e4), one scale, no averaging, VGG-19's own zero padding. Any of these may still be
#: given to `run_experiment` (or on the command line) to sweep with other settings.
PAPER_SETTINGS = presets.PAPER_ARITHMETIC


def check_experiment(
    name: str | Experiment,
    content,
    style,
    *,
    output_dir: str | os.PathLike,
    contents: Sequence = (),
    styles: Sequence = (),
    log_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = True,
    **settings,
) -> tuple[Experiment, list]:
    """Everything `run_experiment` checks before it starts (TensorFlow-free, nothing written).

    Returns:
        The experiment and its planned fits, as `plan_experiment` gives them.

    Raises:
        ValueError: a bad setting or image; an output folder that holds an input, an output
            file that is one, or one that exists with `overwrite=False`; a fit that cannot
            run (see `keras_nst.painting.check`).
    """
    from keras_nst import painting, paths

    settings = {**PAPER_SETTINGS, **settings}
    task_kwargs, painting_kwargs = split_task_settings(settings)
    exp, planned = plan_experiment(
        name, content, style, contents=contents, styles=styles, **task_kwargs
    )
    inputs = [item for _, task in planned for item in painting.input_files(task)]
    output_dir = paths.check_output_directory(output_dir, "output_dir", inputs=inputs)
    if output_dir.is_dir():  # a new folder holds nothing to replace
        for file_name in [run_output_name(label) for label in experiment_labels(exp)] + [
            CONTACT_SHEET
        ]:
            paths.check_output_file(
                output_dir / file_name,
                "output_dir",
                inputs=inputs,
                refuse_existing=None if overwrite else "overwrite=False",
            )
    root = checkpoint_root(output_dir)
    for group, task in planned:
        directory = root / _fit_name(group)
        run_settings = _run_settings(group[0], painting_kwargs)
        painting.check(
            task,
            checkpoint_dir=directory,
            overwrite=overwrite,
            resume=directory if resume and (directory / CHECKPOINT_FILE).exists() else False,
            log_dir=None if log_dir is None else Path(log_dir) / exp.name,
            **run_settings,
        )
    return exp, planned


def _run_settings(run: Run, settings: dict) -> dict:
    values = dict(settings)
    if run.pooling:
        values["pooling"] = run.pooling
    if run.optimizer:
        values["optimizer"] = run.optimizer
    return values


def run_experiment(
    name: str | Experiment,
    content,
    style,
    *,
    output_dir: str | os.PathLike,
    contents: Sequence = (),
    styles: Sequence = (),
    log_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = True,
    strategy=None,
    verbose: Any = 0,
    **settings,
) -> ExperimentResult:
    """Runs one experiment and writes its images, contact sheet and TensorBoard runs.

    Each fit paints through `keras_nst.stylize`, with its own checkpoints (in
    `<output_dir>.checkpoints/`), the NaN guard, and a clean stop on Ctrl-C; `resume=True`
    continues an interrupted sweep, keeping the fits that were done.

    Args:
        name: a name in `EXPERIMENTS`, or an `Experiment` of your own runs.
        content: the content image (path, PIL image or array).
        style: the style image.
        output_dir: where `<label>.png` per run and `contact_sheet.png` go (created).
        contents: extra content images for `"content"` (the first is `content`).
        styles: extra style images for `"style"` (the first is `style`).
        log_dir: TensorBoard root: runs go to `log_dir/<experiment>/<label>`, each with its
            HParams (a fit of variants also logs their sums in `log_dir/<experiment>`).
            `None` writes no logs.
        resume: continue each fit from its checkpoint, where it has one.
        overwrite: `False` refuses existing images and checkpoints instead of replacing them.
        strategy: a `tf.distribute.Strategy` to paint under (variants are spread over its
            replicas).
        verbose: Keras' progress output for `fit`.
        **settings: `StyleTask` settings shared by all runs (`size`, `style_weight`, ...) and
            `stylize` settings (`steps`, `optimizer`, `learning_rate`, `pooling`, `weights`,
            `precision`, ...); runs may override pooling and optimizer.

    Returns:
        An `ExperimentResult`.
    """
    from keras_nst import painting
    from keras_nst.callbacks import StyleTensorBoard, write_variant_runs

    settings = {**PAPER_SETTINGS, **settings}
    exp, planned = check_experiment(
        name,
        content,
        style,
        output_dir=output_dir,
        contents=contents,
        styles=styles,
        log_dir=log_dir,
        resume=resume,
        overwrite=overwrite,
        **settings,
    )
    painting_kwargs = split_task_settings(settings)[1]
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    log_root = None if log_dir is None else Path(log_dir) / exp.name
    root = checkpoint_root(output_dir)

    results = {}
    stopped = None
    for group, task in planned:
        first = group[0]
        directory = root / _fit_name(group)
        callbacks = []
        if log_root is not None:
            run_dir = log_root if len(group) > 1 else log_root / _slug(first.label)
            callbacks.append(StyleTensorBoard(run_dir, image_every=None, hparams=len(group) == 1))
        painted = painting.stylize(
            task,
            checkpoint_dir=directory,
            overwrite=overwrite,
            resume=directory if resume and (directory / CHECKPOINT_FILE).exists() else False,
            callbacks=callbacks,
            strategy=strategy,
            verbose=verbose,
            **_run_settings(first, painting_kwargs),
        )
        if painted.stopped_by is not None:
            stopped = painted
            break
        if log_root is not None and len(group) > 1:
            write_variant_runs(painted.model, log_root, [_slug(run.label) for run in group])
        losses = painted.model.variant_losses()["loss"]
        for row, run in enumerate(group):
            save_image(output_dir / run_output_name(run.label), painted.images[row])
            results[run.label] = (
                painted.images[row],
                painted.seconds,
                float(losses[row]),
                len(group),
            )

    labels = [label for label in experiment_labels(exp) if label in results]
    image_paths = [output_dir / run_output_name(label) for label in labels]
    sheet_path = None
    if stopped is None:

        def caption(label):
            _, seconds, _, shared_by = results[label]
            return f"{seconds:.1f} s" + (f" (1 fit of {shared_by})" if shared_by > 1 else "")

        sheet = contact_sheet(
            [[results[label][0] for label in labels]],
            row_labels=[_name(content) + " / " + _name(style)],
            column_labels=labels,
            captions=[[caption(label) for label in labels]],
            title=f"{exp.title}: {painting_kwargs.get('steps', 200)} steps",
        )
        sheet_path = save_image(output_dir / CONTACT_SHEET, sheet)
    return ExperimentResult(
        experiment=exp,
        labels=labels,
        images=[results[label][0] for label in labels],
        seconds=[results[label][1] for label in labels],
        losses=[results[label][2] for label in labels],
        sheet=sheet_path,
        image_paths=image_paths,
        stopped_by=None if stopped is None else stopped.stopped_by,
        bad_losses=[] if stopped is None else stopped.bad_losses,
    )
