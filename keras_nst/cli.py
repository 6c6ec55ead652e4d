"""The `keras-nst` command: `keras-nst stylize CONTENT STYLE -o OUT.png`.

Arguments and images are checked before TensorFlow starts, so a typo costs a fraction of a
second and prints one line on stderr; TensorFlow's start-up notices are held back.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import os
import signal
import sys
import tempfile
from pathlib import Path

from keras_nst import choices, images, memory, paths, weights as weights_lib
from keras_nst.choices import POOLING
from keras_nst.experiments import (
    CONTACT_SHEET, EXPERIMENTS, experiment_labels, plan_experiment, run_output_name,
)
from keras_nst.precision import resolve_precision_on_cpu
from keras_nst.task import INIT_MODES, StyleTask

PROG = "keras-nst"
#: Optimisation steps of `keras-nst stylize` when `--steps` is not given.
DEFAULT_STEPS = 500
#: A sweep paints many images: smaller and shorter by default.
DEFAULT_SWEEP_SIZE = 128
DEFAULT_SWEEP_STEPS = 200
WEIGHT_CHOICES = ("auto", "imagenet", "random")

EXIT_USAGE = 2
EXIT_FAILURE = 1
#: The loss became NaN or Inf: the last good image was written.
EXIT_NON_FINITE = 3
#: Stopped by a signal after a step, image and checkpoint written: 128 + the signal's number.
EXIT_INTERRUPTED = 130

_TASK_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(StyleTask.__init__).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage dump)."""

    def error(self, message):
        raise _UsageError(message)


class _UsageError(Exception):
    pass


def _layer_weights(text: str) -> dict[str, float]:
    """`block1_conv1=0.5,block2_conv1=0.5` or `block4_conv2` (weight 1 each)."""
    layers = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, weight = item.partition("=")
        try:
            layers[name.strip()] = float(weight) if weight else 1.0
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"layer weights must look like 'block4_conv2=1.0,block5_conv2=0.5'; "
                f"{weight!r} is not a number"
            ) from None
    return layers


def _float_list(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as '0.7,0.3'; got {text!r}"
        ) from None


def _add_painting_options(parser, *, size: int, steps: int) -> None:
    """Options `stylize` and `sweep` share: how to paint (model, optimizer, weights)."""
    d = _TASK_DEFAULTS
    add = parser.add_argument
    add("--size", type=int, default=size, help="longest side of the result in pixels")
    add("--style-size", type=int, default=None, help="longest side of the style images (default: --size)")
    add("--steps", type=int, default=steps, help="optimisation steps")
    add("--optimizer", default="adam", help=f"one of {', '.join(choices.OPTIMIZERS)}")
    add("--learning-rate", type=float, default=None, help="default: the optimizer's pixel-scale default")
    add("--pooling", default="avg", help=f"one of {', '.join(POOLING)}")
    add("--content-weight", type=float, default=d["content_weight"], help="alpha")
    add("--style-weight", type=float, default=d["style_weight"], help="beta")
    add("--tv-weight", type=float, default=d["total_variation_weight"], help="total variation weight")
    add("--seed", type=int, default=d["seed"], help="seed of the initial noise and of random VGG weights")
    add("--weights", default="auto",
        help="VGG-19 weights: auto (ImageNet, else random with a warning), imagenet, random, "
        "or a .h5/.weights.h5/.mat file")
    add("--precision", default="auto",
        help="VGG-19 arithmetic: auto (bfloat16 where the hardware has it), float32, mixed_bfloat16")
    add("--logdir", default=None, help="write TensorBoard logs here (e.g. logs/run1)")
    add("--no-clobber", action="store_true",
        help="refuse to start if an output file already exists (by default an existing output "
        "is replaced; one of the run's inputs never is)")
    add("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Neural style transfer (Gatys et al.) with Keras.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    stylize = commands.add_parser(
        "stylize",
        help="paint CONTENT in the style of STYLE",
        description="Paint CONTENT in the style of STYLE (several styles are blended).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    d = _TASK_DEFAULTS
    add = stylize.add_argument
    add("content", nargs="?", help="content image (photo)")
    add("style", nargs="*", help="style image(s) (painting)")
    add("-o", "--output", default=None,
        help="output image (.png, .jpg, ...), written atomically; an existing file is replaced "
        "(see --no-clobber), never an input")
    add("--task", default=None, metavar="FILE",
        help="TOML or JSON file of settings (keys as the long options, e.g. style_weight); "
        "options given on the command line win")
    _add_painting_options(stylize, size=d["size"], steps=DEFAULT_STEPS)
    add("--content-layers", type=_layer_weights, default=None, help="e.g. block4_conv2=1.0 (default: Gatys')")
    add("--style-layers", type=_layer_weights, default=None,
        help="e.g. block1_conv1=0.2,block2_conv1=0.2 (default: Gatys' conv1 of each block, 0.2 each)")
    add("--style-blend", type=_float_list, default=None, help="weights of several style images, e.g. 0.7,0.3")
    add("--init", default=d["init"], help=f"one of {', '.join(INIT_MODES)}, or an image path")
    add("--noise-ratio", type=float, default=d["noise_ratio"], help="noise share for --init content+noise")
    add("--image-every", type=int, default=100, help="with --logdir: write the image every N steps")
    add("--checkpoint-dir", default=None,
        help="where checkpoints go (default: OUTPUT's name with .checkpoint, beside it)")
    add("--checkpoint-every", type=int, default=100, help="steps between checkpoints")
    add("--resume", default=None, metavar="DIR",
        help="continue from the checkpoint in DIR (same arguments otherwise); --steps is the total")

    sweep = commands.add_parser(
        "sweep",
        help="run one of the report's experiments and draw its contact sheet",
        description="Run one of the seed report's experiments: "
        + "; ".join(f"{name}" for name in EXPERIMENTS)
        + ". Weight, layer and init sweeps paint all their images in one fit (as variants).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add = sweep.add_argument
    add("experiment", help=f"one of {', '.join(EXPERIMENTS)}")
    add("content", nargs="+", help="content image(s); several for the 'content' experiment")
    add("--style", nargs="+", required=True, help="style image(s); several for the 'style' experiment")
    add("-o", "--output-dir", required=True,
        help="folder for the images and contact_sheet.png; it must not hold any of the inputs")
    _add_painting_options(sweep, size=DEFAULT_SWEEP_SIZE, steps=DEFAULT_SWEEP_STEPS)
    return parser


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def _check_painting_options(args) -> None:
    for flag, value in (("--steps", args.steps), ("--image-every", getattr(args, "image_every", 1))):
        if value <= 0:
            raise ValueError(f"`{flag}` must be a positive integer. Received: {flag}={value}")
    choices.check_optimizer_name(args.optimizer)
    if args.learning_rate is not None:
        choices.check_learning_rate(args.learning_rate)
    choices.check_pooling(args.pooling, "--pooling")
    choices.check_precision(args.precision)
    if args.weights not in WEIGHT_CHOICES:
        weights_lib.check_weights(args.weights)


def _task_settings(args) -> dict:
    return dict(
        size=args.size,
        style_size=args.style_size,
        content_weight=args.content_weight,
        style_weight=args.style_weight,
        total_variation_weight=args.tv_weight,
        seed=args.seed,
    )


#: Keys a `--task` file may hold, with the type each needs (StyleTask checks its own values).
TASK_FILE_KEYS = {
    "content": str, "style": (str, list), "output": str, "size": int, "style_size": int,
    "steps": int, "optimizer": str, "learning_rate": (int, float), "pooling": str,
    "content_weight": (int, float), "style_weight": (int, float),
    "total_variation_weight": (int, float), "content_layers": dict, "style_layers": dict,
    "style_blend": list, "init": str, "noise_ratio": (int, float), "seed": int, "weights": str,
    "precision": str, "logdir": str, "image_every": int, "checkpoint_every": int,
}
_DESTINATIONS = {"total_variation_weight": "tv_weight"}
_PATH_KEYS = ("content", "style", "init", "weights", "output", "logdir")


def _read_task_file(path: str) -> dict:
    import difflib
    import json

    file = paths.check_input_file(path, "--task")
    try:
        if file.suffix.lower() == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                raise ValueError("TOML needs Python 3.11 or newer; use a .json file") from None
            settings = tomllib.loads(file.read_text(encoding="utf-8"))
        elif file.suffix.lower() == ".json":
            settings = json.loads(file.read_text(encoding="utf-8"))
        else:
            raise ValueError("the name must end in .toml or .json")
    except (ValueError, UnicodeDecodeError) as error:  # TOMLDecodeError is a ValueError
        raise ValueError(
            f"`--task` file could not be read ({_one_line(error)}). Received: --task='{path}'"
        ) from None
    if not isinstance(settings, dict):
        raise ValueError(f"`--task` file must hold a table of settings. Received: --task='{path}'")
    for key, value in settings.items():
        if key not in TASK_FILE_KEYS:
            close = difflib.get_close_matches(key, TASK_FILE_KEYS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"`--task` file has an unknown key {key!r}.{hint} Valid keys: "
                f"{', '.join(TASK_FILE_KEYS)}. Received: --task='{path}'"
            )
        expected = TASK_FILE_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
            raise ValueError(
                f"`--task` key {key!r} must be of type {names}. "
                f"Received: {key}={value!r} in --task='{path}'"
            )
        if key in _PATH_KEYS:
            # Paths in the file are relative to the file.
            def resolve(item):
                candidate = file.parent / item
                return str(candidate) if key == "output" or os.path.exists(candidate) else item

            settings[key] = [resolve(v) for v in value] if isinstance(value, list) else resolve(value)
    return settings


def _apply_task_file(args, parser) -> None:
    """Fills the options left at their defaults from `--task`'s file."""
    if args.task:
        defaults = vars(parser.parse_args(["stylize"]))
        for key, value in _read_task_file(args.task).items():
            destination = _DESTINATIONS.get(key, key)
            if key == "style" and isinstance(value, str):
                value = [value]
            if getattr(args, destination) == defaults[destination]:
                setattr(args, destination, value)
    for name, flag in (("content", "CONTENT"), ("style", "STYLE"), ("output", "--output")):
        if not getattr(args, name):
            raise ValueError(
                f"`{flag}` is required (on the command line or in the --task file). "
                f"Received: {name}=None"
            )


def _input_files(args) -> list[tuple[str, str]]:
    """The files a run reads, as (argument, path): no output may replace one."""
    contents = args.content if isinstance(args.content, list) else [args.content]
    files = [("CONTENT", content) for content in contents]
    files += [("STYLE", style) for style in args.style]
    if getattr(args, "init", None) and args.init not in INIT_MODES:
        files.append(("--init", args.init))
    if getattr(args, "task", None):
        files.append(("--task", args.task))
    if args.weights not in WEIGHT_CHOICES:
        files.append(("--weights", args.weights))
    if getattr(args, "resume", None):
        files.append(("--resume", str(Path(args.resume) / choices.CHECKPOINT_FILE)))
    return files


def _refuse_existing(args) -> str | None:
    return "--no-clobber" if args.no_clobber else None


def _check_outputs(args) -> None:
    """Every place `stylize` writes, checked before anything starts."""
    inputs = _input_files(args)
    images.check_output_path(
        args.output, "--output", inputs=inputs, refuse_existing=_refuse_existing(args)
    )
    checkpoint_dir = _checkpoint_dir(args)
    resumed = inputs[-1:] if args.resume else []
    paths.check_output_directory(
        checkpoint_dir, "--checkpoint-dir", inputs=inputs, may_hold=resumed
    )
    paths.check_not_in_use(checkpoint_dir, "--checkpoint-dir")
    existing = os.path.exists(checkpoint_dir / choices.CHECKPOINT_FILE)
    if args.no_clobber and not args.resume and existing:
        raise ValueError(
            f"`--checkpoint-dir` already holds a checkpoint and --no-clobber asks not to replace "
            f"it (add --resume {checkpoint_dir} to continue it). "
            f"Received: --checkpoint-dir='{checkpoint_dir}'"
        )
    directories = [("--checkpoint-dir", checkpoint_dir)]
    if args.logdir:
        paths.check_output_directory(args.logdir, "--logdir", inputs=inputs)
        directories.append(("--logdir", args.logdir))
    paths.check_distinct([("--output", args.output)], directories)


def _check(args) -> StyleTask:
    """Everything of `stylize` that can be checked before TensorFlow starts."""
    if args.resume:
        checkpoint = Path(args.resume) / choices.CHECKPOINT_FILE
        if not os.path.lexists(checkpoint):
            raise ValueError(
                f"`--resume` directory holds no {choices.CHECKPOINT_FILE}. "
                f"Received: --resume='{args.resume}'"
            )
        paths.check_input_file(checkpoint, "--resume", "checkpoint file")
    _check_outputs(args)
    _check_painting_options(args)
    if args.checkpoint_every <= 0:
        raise ValueError(
            "`--checkpoint-every` must be a positive integer. "
            f"Received: --checkpoint-every={args.checkpoint_every}"
        )
    task = StyleTask(
        args.content,
        args.style if len(args.style) > 1 else args.style[0],
        content_layers=args.content_layers,
        style_layers=args.style_layers,
        init=args.init,
        noise_ratio=args.noise_ratio,
        style_blend=args.style_blend,
        **_task_settings(args),
    )
    memory.check_fits(
        task, optimizer=args.optimizer, precision=resolve_precision_on_cpu(args.precision)
    )
    return task


def _check_sweep(args) -> None:
    """Everything of `sweep` that can be checked before TensorFlow starts."""
    if args.experiment not in EXPERIMENTS:
        raise ValueError(
            f"`experiment` must be one of {EXPERIMENTS}. Received: experiment={args.experiment!r}"
        )
    output = Path(args.output_dir)
    parent = output if os.path.exists(output) else output.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(
            f"`--output-dir` must be a writable directory or a new one in a writable directory. "
            f"Received: --output-dir='{output}'"
        )
    inputs = _input_files(args)
    paths.check_output_directory(output, "--output-dir", inputs=inputs)
    directories = [("--output-dir", output)]
    if args.logdir:
        paths.check_output_directory(args.logdir, "--logdir", inputs=inputs)
        directories.append(("--logdir", args.logdir))
    _check_painting_options(args)
    experiment, _ = plan_experiment(
        args.experiment, args.content[0], args.style[0],
        contents=args.content[1:], styles=args.style[1:], **_task_settings(args),
    )
    if output.is_dir():  # a new folder holds nothing to replace
        for name in [run_output_name(label) for label in experiment_labels(experiment)] + [
            CONTACT_SHEET
        ]:
            paths.check_output_file(
                output / name, "--output-dir", inputs=inputs,
                refuse_existing=_refuse_existing(args),
            )


@contextlib.contextmanager
def _quiet_stderr():
    """Holds back what C++ libraries write to stderr (TensorFlow's start-up notices).

    What was written is shown after all if the block fails, so no real error is hidden.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _start_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _quiet_stderr():
        import tensorflow  # noqa: F401  (its start-up notices are held back here)


def _weights(args):
    """The `weights` argument for the model; `auto` tries ImageNet, else random weights."""
    if args.weights != "auto":
        return {"random": None, "imagenet": "imagenet"}.get(args.weights, args.weights)
    from keras_nst.extractor import vgg19_base

    try:
        vgg19_base("imagenet")
        return "imagenet"
    except weights_lib.WeightsUnavailableError as error:
        print(
            f"{PROG}: warning: {_one_line(error).split(' Pass a local')[0]} Using seeded random "
            "VGG-19 weights (--weights random): results are approximate.",
            file=sys.stderr,
        )
        return None


def _run(check, paint, args) -> int:
    """Checks before TensorFlow starts, then paints; every failure is one stderr line."""
    try:
        checked = check(args)
    except (ValueError, OSError) as error:
        return _fail(_one_line(error), EXIT_USAGE)
    _start_tensorflow()
    try:
        paint(checked, args)
    except ValueError as error:
        return _fail(_one_line(error), EXIT_USAGE)
    except weights_lib.WeightsUnavailableError as error:
        return _fail(_one_line(error), EXIT_FAILURE)
    except _Stopped as stopped:
        return _fail(_one_line(stopped), stopped.code)
    except KeyboardInterrupt:
        return _fail("aborted; files written so far (checkpoints included) are intact", EXIT_INTERRUPTED)
    except OSError as error:  # a full disk, a lost mount: WriteError names the file
        return _fail(_one_line(error), EXIT_FAILURE)
    if args.logdir:
        # stylize writes one run into --logdir; sweep writes a run per image below it.
        root = args.logdir if args.command == "sweep" else Path(args.logdir).parent
        print(f"TensorBoard logs in {args.logdir}: tensorboard --logdir {root}")
    return 0


def _checkpoint_dir(args) -> Path:
    if args.resume:
        return Path(args.resume)
    if args.checkpoint_dir:
        return Path(args.checkpoint_dir)
    output = Path(args.output)
    return output.with_name(output.stem + ".checkpoint")


class _Stopped(Exception):
    """fit ended early (a signal, or a NaN loss); the image so far was written."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def _paint(task: StyleTask, args) -> None:
    import keras

    from keras_nst import optimizers
    from keras_nst.callbacks import StyleTensorBoard
    from keras_nst.checkpoints import StopOnNonFinite, StopOnSignal, StyleCheckpoint
    from keras_nst.model import StyleTransferModel

    model = StyleTransferModel(
        task, weights=_weights(args), pooling=args.pooling, precision=args.precision
    )
    model.compile(optimizer=optimizers.get(args.optimizer, args.learning_rate))
    directory = _checkpoint_dir(args)
    checkpoint = StyleCheckpoint(directory, every=args.checkpoint_every)
    done = checkpoint.restore(model)["step"] if args.resume else 0
    stop, guard = StopOnSignal(), StopOnNonFinite()
    announce = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: print(
            f"Painting steps {done + 1} to {args.steps}; checkpoints in {directory}. "
            "Ctrl-C stops after the current step.",
            flush=True,
        )
    )
    # The guards come first: they stop fit (and fix the image) before anything is saved.
    callbacks = [stop, guard, checkpoint, announce]
    if args.logdir:
        callbacks.append(StyleTensorBoard(args.logdir, image_every=args.image_every))
    if args.steps > done:
        model.fit(
            task,
            epochs=1,
            steps_per_epoch=args.steps - done,
            callbacks=callbacks,
            verbose=0 if args.quiet else "auto",
        )
    output = images.save_image(args.output, model.images()[0])
    step = int(model.optimizer.iterations.numpy())
    if guard.bad_losses:
        raise _Stopped(
            f"the loss became NaN or Inf at step {guard.bad_step} ({', '.join(guard.bad_losses)}); "
            f"the last good image is in {output} and the last good checkpoint in {directory}. "
            "Try a lower --learning-rate.",
            EXIT_NON_FINITE,
        )
    if stop.signal_received is not None:
        name = signal.Signals(stop.signal_received).name
        raise _Stopped(
            f"stopped by {name} at step {step} of {args.steps}; the image so far is in {output} "
            f"and a checkpoint in {directory}. Resume with the same command and --resume {directory}",
            128 + stop.signal_received,
        )
    print(f"Wrote {output}")


def _sweep(_, args) -> None:
    from keras_nst.experiments import run_experiment

    result = run_experiment(
        args.experiment,
        args.content[0],
        args.style[0],
        contents=args.content[1:],
        styles=args.style[1:],
        output_dir=args.output_dir,
        steps=args.steps,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        pooling=args.pooling,
        weights=_weights(args),
        precision=args.precision,
        log_dir=args.logdir,
        verbose=0 if args.quiet else "auto",
        **_task_settings(args),
    )
    for label, seconds, loss in zip(result.labels, result.seconds, result.losses):
        print(f"{label}: loss {loss:.4g}, {seconds:.1f} s")
    print(f"Wrote {len(result.image_paths)} images and {result.sheet}")


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (0 on success)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as error:
        return _fail(_one_line(error), EXIT_USAGE)
    if args.command == "stylize":
        try:
            _apply_task_file(args, parser)
        except ValueError as error:
            return _fail(_one_line(error), EXIT_USAGE)
        return _run(_check, _paint, args)
    return _run(_check_sweep, _sweep, args)


if __name__ == "__main__":
    sys.exit(main())
