"""The `keras-nst` command: `keras-nst stylize CONTENT STYLE -o OUT.png`.

Parsing and exit codes only: the options come from the table in `keras_nst.settings`, the
painting from `keras_nst.stylize`, the experiments from `keras_nst.experiments`. Arguments,
images and every output location are checked before TensorFlow starts, so a typo costs a
fraction of a second and prints one line on stderr; TensorFlow's start-up notices are held
back. Errors name options as they are typed here (`--style-size`, `CONTENT`).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import shlex
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

from keras_nst import painting, taskfile
from keras_nst import settings as settings_lib
from keras_nst import weights as weights_lib
from keras_nst.experiments import EXPERIMENTS, check_experiment
from keras_nst.settings import SETTINGS
from keras_nst.task import StyleTask

PROG = "keras-nst"
#: A sweep paints many images: smaller and shorter by default.
DEFAULT_SWEEP_SIZE = 128
DEFAULT_SWEEP_STEPS = 200

EXIT_USAGE = 2
EXIT_FAILURE = 1
#: The loss became NaN or Inf: the last good image was written.
EXIT_NON_FINITE = 3
#: Stopped by a signal after a step, image and checkpoint written: 128 + the signal's number.
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (no usage dump), an option is never
    taken from a prefix of its name (`--step` is not `--steps`), a misspelt option gets the
    one meant, and every help page ends with an example."""

    def __init__(self, *args, example: str = "", **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        if example:
            kwargs["epilog"] = f"example:\n  {example}"
        super().__init__(*args, **kwargs)

    def error(self, message):
        unknown = message.removeprefix("unrecognized arguments: ")
        if unknown != message:
            parsers = [self]
            for action in self._actions:  # a command's options are its parser's
                if isinstance(action, argparse._SubParsersAction):
                    parsers += list(action.choices.values())
            options = [o for p in parsers for action in p._actions for o in action.option_strings]
            names = {option.lstrip("-"): option for option in options if option.startswith("--")}
            for word in unknown.split():
                name = word.split("=")[0].lstrip("-")
                close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.75)
                if word.startswith("--") and close:
                    message = f"unrecognized option {word}: did you mean {names[close[0]]}?"
                    break
        raise _UsageError(message)


class _UsageError(Exception):
    pass


class _Stopped(Exception):
    """The painting ended early (a signal, or a NaN loss); the image so far was written.
    `asked`: the user stopped it (a signal), which is no error."""

    def __init__(self, message: str, code: int, asked: bool = False):
        super().__init__(message)
        self.code = code
        self.asked = asked


def _raise_if_stopped(result, args, total: int, directory, *, good: str, so_far: str) -> None:
    """One line for a painting that ended early, saying where its work is (`good` after a
    NaN, `so_far` after a signal) and how to go on."""
    if result.stopped_by == "non-finite":
        raise _Stopped(
            f"the loss became NaN or Inf at step {result.bad_step} "
            f"({', '.join(result.bad_losses)}); {good}. Try a lower --learning-rate.",
            EXIT_NON_FINITE,
        )
    if result.signal_number is not None:
        raise _Stopped(
            f"stopped by {result.stopped_by} at step {result.steps} of {total}; {so_far}. "
            f"Resume with: {_resume_command(args, directory)}",
            128 + result.signal_number,
            asked=True,
        )


def _resume_command(args, directory) -> str:
    """The command line that goes on where this one stopped: the same, with `--resume`."""
    argv = list(getattr(args, "argv", None) or [])
    for index, word in enumerate(argv):
        if word == "--resume" and index + 1 < len(argv):
            del argv[index : index + 2]
            break
        if word.startswith("--resume="):
            del argv[index]
            break
    # As it was started (`.venv/bin/keras-nst` where that is how), else by its name.
    program = sys.argv[0] if os.path.basename(sys.argv[0]) == PROG else PROG
    if args.command == "sweep":
        return shlex.join([program, *argv, "--resume"])
    return shlex.join([program, *argv, "--resume", str(directory)])


VIDEO_OUTPUT_HELP = (
    "output clip: a video file (.mp4, .avi, ...), a .gif/.webp, or a folder of frames; "
    "written when the last frame is painted; never an input"
)


def _add_settings(parser, command: str, defaults: dict | None = None) -> None:
    """One option per setting of the table; unset options stay out of the namespace, so the
    command line, a `--task` file and the defaults can be told apart."""
    table = SETTINGS + (settings_lib.VIDEO_SETTINGS if command == "video" else ())
    for setting in table:
        if setting.flag is None or (command == "sweep" and not setting.sweep):
            continue
        if setting.name in ("output",) and command == "sweep":
            continue
        default = (defaults or {}).get(setting.name, setting.command_line_default)
        shown = "" if default is None else f" (default: {settings_lib.show(default)})"
        if "(default" in setting.help:  # the help says it in words already
            shown = ""
        text = (
            VIDEO_OUTPUT_HELP if command == "video" and setting.name == "output" else setting.help
        )
        kwargs = dict(default=argparse.SUPPRESS, help=text + shown, dest=setting.name)
        if setting.parse is not None:
            kwargs["type"] = setting.parse
        flags = [setting.option] + (["-o"] if setting.name == "output" else [])
        metavar = setting.metavar or setting.option.lstrip("-").replace("-", "_").upper()
        parser.add_argument(*flags[::-1], metavar=metavar, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from keras_nst import __version__

    parser = _Parser(
        prog=PROG,
        description="Neural style transfer (Gatys et al.) with Keras.",
        example=f"{PROG} stylize photo.jpg painting.jpg -o out.png",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    stylize = commands.add_parser(
        "stylize",
        help="paint CONTENT in the style of STYLE",
        description="Paint CONTENT in the style of STYLE (several styles are blended).",
        usage=f"{PROG} stylize CONTENT STYLE [STYLE ...] -o OUTPUT [options]",
        example=f"{PROG} stylize photo.jpg painting.jpg -o out.png --size 512 --preset w2",
    )
    add = stylize.add_argument
    add("content", nargs="?", help="content image (photo)")
    add("style", nargs="*", help="style image(s) (painting)")
    _add_task(add)
    _add_preset(add)
    _add_settings(stylize, "stylize")
    _add_checkpoints(
        add,
        "where checkpoints go",
        "continue from the checkpoint in DIR (same arguments otherwise); --steps is the total",
    )
    _add_common(stylize)

    video = commands.add_parser(
        "video",
        help="paint a clip in the style of STYLE without flicker",
        description="Paint INPUT (a video file, an animated GIF/WebP or a folder of frames) in "
        "the style of STYLE, frame after frame: each frame starts from the previous painted frame "
        "warped along the optical flow, held to it by a temporal loss (Ruder et al. 2016). "
        "--steps is the first frame's, --frame-steps each later frame's.",
        usage=f"{PROG} video INPUT STYLE [STYLE ...] -o OUTPUT [options]",
        example=f"{PROG} video clip.mp4 painting.jpg -o painted.mp4 --size 256",
    )
    add = video.add_argument
    add("input", help="video file, animated GIF/WebP, or folder of frames")
    add("style", nargs="+", help="style image(s) (painting)")
    _add_task(add)
    _add_preset(add)
    _add_settings(video, "video")
    _add_checkpoints(
        add,
        "where checkpoints and the finished frames go",
        "continue from the checkpoint in DIR at the frame and step where it stopped",
    )
    _add_common(video)

    sweep = commands.add_parser(
        "sweep",
        help="run one of the report's experiments and draw its contact sheet",
        description="Run one of the seed report's experiments: "
        + "; ".join(f"{name}" for name in EXPERIMENTS)
        + ". Weight, layer and init sweeps paint all their images in one fit (as variants).",
        usage=f"{PROG} sweep EXPERIMENT CONTENT [CONTENT ...] --style STYLE [--style STYLE ...] "
        "-o OUTPUT_DIR [options]",
        example=f"{PROG} sweep ratio photo.jpg --style painting.jpg -o outputs/ratio --size 128",
    )
    add = sweep.add_argument
    add("experiment", help=f"one of {', '.join(EXPERIMENTS)}")
    add("content", nargs="+", help="content image(s); several for the 'content' experiment")
    add(
        "--style",
        action="append",
        required=True,
        help="style image; give --style again for each of several (the 'style' experiment), "
        "so that it never takes a CONTENT for a style",
    )
    add(
        "-o",
        "--output-dir",
        required=True,
        help="folder for the images and contact_sheet.png; it must not hold any of the inputs",
    )
    from keras_nst.experiments import PAPER_SETTINGS

    _add_settings(
        sweep, "sweep", {"size": DEFAULT_SWEEP_SIZE, "steps": DEFAULT_SWEEP_STEPS, **PAPER_SETTINGS}
    )
    add(
        "--resume",
        action="store_true",
        help="continue an interrupted sweep in the same --output-dir (finished fits are kept)",
    )
    _add_common(sweep)
    return parser


def _add_checkpoints(add, where: str, resume: str) -> None:
    add(
        "--checkpoint-dir",
        default=None,
        help=f"{where} (default: OUTPUT's name with .checkpoint, beside it)",
    )
    add("--resume", default=None, metavar="DIR", help=resume)


def _add_task(add) -> None:
    add(
        "--task",
        default=None,
        metavar="FILE",
        help="TOML or JSON file of settings (keys as the long options, e.g. style_weight); "
        "options given on the command line win",
    )


def _add_preset(add) -> None:
    from keras_nst import presets

    add(
        "--preset",
        default=None,
        metavar="NAME",
        help="named settings: "
        + "; ".join(f"{name}: {text}" for name, text in presets.DESCRIPTIONS.items())
        + ". Options and --task win over it",
    )


def _add_common(parser) -> None:
    parser.add_argument(
        "--no-clobber",
        action="store_true",
        help="refuse to start if an output file already exists (by default an existing output "
        "is replaced; one of the run's inputs never is)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


# === Settings: command line over task file over defaults ===


def _settings(args) -> dict:
    """Every setting's value: given on the command line, else in `--task`, else its default."""
    table = SETTINGS + (settings_lib.VIDEO_SETTINGS if args.command == "video" else ())
    given = {s.name: getattr(args, s.name) for s in table if hasattr(args, s.name)}
    for name in ("content", "style"):
        if getattr(args, name, None) in (None, []):
            given.pop(name, None)
    from_file = taskfile.read(args.task, table) if getattr(args, "task", None) else {}
    if isinstance(from_file.get("style"), str):
        from_file["style"] = [from_file["style"]]
    values = {s.name: s.command_line_default for s in table}
    if getattr(args, "preset", None) is not None:
        from keras_nst import presets

        values.update(presets.get(args.preset, "--preset"))
    values.update(from_file)
    values.update(given)
    if args.command == "sweep":
        for name, default in (("size", DEFAULT_SWEEP_SIZE), ("steps", DEFAULT_SWEEP_STEPS)):
            if name not in given:
                values[name] = default
    return values


def _weights(value):
    """The `weights` argument for the library, checked: `random` is None; names and files
    pass through."""
    weights_lib.check_weights(value, allow_auto=True)
    return None if value == "random" else value


def _painting_settings(values: dict) -> dict:
    chosen = {s.name: values[s.name] for s in painting.PAINTING_SETTINGS}
    chosen["weights"] = _weights(chosen["weights"])
    return chosen


def _checkpoint_dir(args, values) -> Path:
    if args.resume:
        return Path(args.resume)
    if args.checkpoint_dir:
        return Path(args.checkpoint_dir)
    output = Path(values["output"])
    if not output.name or os.path.isdir(output):
        return None  # the output itself is refused, naming it
    return output.with_name(output.stem + ".checkpoint")


# === stylize ===


def _check_stylize(args):
    """Everything of `stylize` that can be checked before TensorFlow starts."""
    values = _settings(args)
    for name, flag in (("content", "CONTENT"), ("style", "STYLE"), ("output", "--output")):
        if not values.get(name):
            raise ValueError(
                f"`{flag}` is required (on the command line or in the --task file). "
                f"Received: {name}=None"
            )
    styles = values["style"]
    task = StyleTask(
        values["content"],
        styles if len(styles) > 1 else styles[0],
        **{s.name: values[s.name] for s in settings_lib.TASK_SETTINGS},
    )
    where = dict(
        output=values["output"],
        checkpoint_dir=_checkpoint_dir(args, values),
        resume=args.resume or False,
        log_dir=values["logdir"],
        overwrite=not args.no_clobber,
        reads=[("--task", args.task)] if args.task else [],
    )
    chosen = _painting_settings(values)
    painting.check(task, **where, **chosen)
    return task, where, chosen


_OPTIMIZER_NAMES = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD", "lbfgs": "L-BFGS"}


def _stages_text(schedule, optimizer: str) -> str:
    """' at 128, 181, 256 px' (nothing for one size), or, where the optimizer changes,
    ' with L-BFGS at 128, 181 px, then Adam at 256 px'."""
    runs = []  # (optimizer, its sizes), in order
    for stage in schedule.stages:
        name = stage.optimizer or optimizer
        if not runs or runs[-1][0] != name:
            runs.append((name, []))
        if stage.size not in runs[-1][1]:
            runs[-1][1].append(stage.size)

    def sizes(values):
        return ", ".join(str(size) for size in values) + " px"

    if len(runs) > 1:
        return " with " + ", then ".join(
            f"{_OPTIMIZER_NAMES.get(n, n)} at {sizes(v)}" for n, v in runs
        )
    return "" if len(runs[0][1]) == 1 else f" at {sizes(runs[0][1])}"


def _tiles_text(schedule, tiles) -> str:
    """The first line's note of the scales painted tile by tile (each stage's tile: `tiles`)."""
    # (size, tile) in order, once each (a clip's frames repeat the final size)
    tiled = list(
        dict.fromkeys((s.size, t) for s, t in zip(schedule.stages, tiles) if t and s.size > t)
    )
    if not tiled:
        return ""
    if len({tile for _, tile in tiled}) == 1:
        sizes = ", ".join(str(size) for size, _ in tiled)
        return f" (tile by tile where larger than {tiled[0][1]} px: {sizes} px)"
    return (
        " (tile by tile: "
        + ", ".join(f"{size} px in tiles of {tile} px" for size, tile in tiled)
        + ")"
    )


def _announce(task, schedule, directory, optimizer: str) -> object:
    import keras
    from keras import ops

    steps = schedule.total_steps
    sizes = _stages_text(schedule, optimizer)

    def begin(logs):
        from keras_nst import timing

        model = callback.model
        done = int(ops.convert_to_numpy(model.optimizer.iterations))
        weights = weights_lib.describe_weights(model.weights_source, model.task.seed)
        # The whole painting's task (a video's first frame's), before any stage moved it.
        seconds = timing.estimate_seconds(task, schedule, model.layer_names, done)
        print(
            f"Painting steps {done + 1} to {steps}{sizes}"
            f"{_tiles_text(schedule, model.stage_tiles)} "
            f"on {weights}, {timing.roughly(seconds)} on this machine; checkpoints in "
            f"{directory}. Ctrl-C stops after the current step.",
            flush=True,
        )

    callback = keras.callbacks.LambdaCallback(on_train_begin=begin)
    return callback


def _paint(checked, args) -> None:
    task, where, chosen = checked
    values = painting.painting_settings(chosen)
    schedule = painting.default_schedule(task, values)
    result = painting.stylize(
        task,
        **where,
        **chosen,
        verbose=0 if args.quiet else "auto",
        callbacks=[_announce(task, schedule, where["checkpoint_dir"], values["optimizer"])],
    )
    output, directory = result.output, where["checkpoint_dir"]
    _raise_if_stopped(
        result,
        args,
        schedule.total_steps,
        directory,
        good=f"the last good image is in {output} and the last good checkpoint in {directory}",
        so_far=f"the image so far is in {output} and a checkpoint in {directory}",
    )
    if not (args.checkpoint_dir or args.resume):
        # Finished: the checkpoint beside the output was only there to survive a stop.
        # A --checkpoint-dir or --resume the user named keeps its checkpoint.
        from keras_nst.checkpoints import remove_checkpoint

        remove_checkpoint(directory)
    print(f"Wrote {output}")
    if where["log_dir"]:
        # stylize writes one run into --logdir; TensorBoard shows it from there or its parent.
        _print_tensorboard_hint(where["log_dir"], Path(where["log_dir"]).parent)


# === video ===


def _check_video(args):
    """Everything of `video` that can be checked before TensorFlow starts."""
    from keras_nst import video_painting

    values = _settings(args)
    if not values.get("output"):
        raise ValueError("`--output` is required. Received: output=None")
    output = Path(values["output"])
    if args.resume:
        directory = Path(args.resume)
    elif args.checkpoint_dir:
        directory = Path(args.checkpoint_dir)
    else:
        directory = output.with_name(
            (output.stem if output.suffix else output.name) + ".checkpoint"
        )
    where = dict(
        output=output,
        checkpoint_dir=directory,
        resume=args.resume or False,
        log_dir=values["logdir"],
        overwrite=not args.no_clobber,
    )
    chosen = {
        **{s.name: values[s.name] for s in settings_lib.TASK_SETTINGS},
        **_painting_settings(values),
        **{s.name: values[s.name] for s in settings_lib.VIDEO_SETTINGS},
    }
    style = args.style if len(args.style) > 1 else args.style[0]
    plan, _, _, fps, inputs = video_painting.check_video(args.input, style, **where, **chosen)
    # The painting takes the frames decoded here (not the file, read again), with the file's
    # frame rate, and the input files that no output may replace.
    chosen = {**chosen, "fps": fps}
    return plan.frames, style, dict(where, reads=inputs), chosen, plan


def _paint_video(checked, args) -> None:
    from keras_nst import video_painting

    source, style, where, chosen, plan = checked
    result = video_painting.stylize_video(
        source,
        style,
        **where,
        **chosen,
        verbose=0 if args.quiet else "auto",
        callbacks=[
            _announce(
                plan.first,
                plan.schedule,
                where["checkpoint_dir"],
                chosen["optimizer"].lower(),
            )
        ],
    )
    directory = where["checkpoint_dir"]
    frames_dir = directory / video_painting.FRAMES_DIR
    done = f"{len(result.frames)} of {len(plan.frames)} frames are in {frames_dir}"
    _raise_if_stopped(
        result,
        args,
        plan.schedule.total_steps,
        directory,
        good=f"{done} and the last good checkpoint in {directory}",
        so_far=done,
    )
    if not (args.checkpoint_dir or args.resume):
        # Finished: the checkpoint and the frames beside the output were only there to
        # survive a stop. A --checkpoint-dir or --resume the user named keeps them.
        video_painting.remove_checkpoint(directory)
    print(f"Wrote {result.output} ({len(result.frames)} frames)")
    if where["log_dir"]:
        _print_tensorboard_hint(where["log_dir"], Path(where["log_dir"]).parent)


# === sweep ===


def _check_sweep(args):
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
    values = _settings(args)
    chosen = _painting_settings(values)
    task_settings = {
        s.name: values[s.name] for s in settings_lib.TASK_SETTINGS if s.sweep and s.name in values
    }
    arguments = dict(
        contents=args.content[1:],
        styles=args.style[1:],
        output_dir=output,
        log_dir=values["logdir"],
        resume=args.resume,
        overwrite=not args.no_clobber,
        **chosen,
        **task_settings,
    )
    check_experiment(args.experiment, args.content[0], args.style[0], **arguments)
    return arguments


def _sweep(arguments, args) -> None:
    from keras_nst.experiments import run_experiment

    result = run_experiment(
        args.experiment,
        args.content[0],
        args.style[0],
        verbose=0 if args.quiet else "auto",
        **arguments,
    )
    for label, seconds, loss in zip(result.labels, result.seconds, result.losses):
        print(f"{label}: loss {loss:.4g}, {seconds:.1f} s")
    if result.stopped_by == "non-finite":
        raise _Stopped(
            f"a loss became NaN or Inf ({', '.join(result.bad_losses)}); the fits before it are "
            f"in {args.output_dir}. Try a lower --learning-rate.",
            EXIT_NON_FINITE,
        )
    if result.signal_number is not None:
        raise _Stopped(
            f"stopped by {result.stopped_by}; finished fits are in {args.output_dir}. "
            f"Continue with: {_resume_command(args, args.output_dir)}",
            128 + result.signal_number,
            asked=True,
        )
    print(f"Wrote {len(result.image_paths)} images and {result.sheet}")
    if arguments["log_dir"]:
        _print_tensorboard_hint(arguments["log_dir"], arguments["log_dir"])


def _tensorboard() -> str:
    """How to start TensorBoard from here: `tensorboard` where it is on the PATH, else the
    one beside this Python (a virtual environment's, not activated), else the module."""
    if shutil.which("tensorboard"):
        return "tensorboard"
    beside = Path(sys.executable).parent / "tensorboard"
    if beside.exists():
        return str(beside)
    return f"{sys.executable} -m tensorboard.main"


def _print_tensorboard_hint(log_dir, root) -> None:
    print(f"TensorBoard logs in {log_dir}: {_tensorboard()} --logdir {root}")


# === Running ===


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


def _not_retracing(record) -> bool:
    """Drops TensorFlow's warning that a function was traced again: a painting traces its step
    once per scale by design (a new canvas is a new variable), which with few steps per scale
    looks to TensorFlow like a mistake."""
    return "triggered tf.function retracing" not in record.getMessage()


def _start_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _quiet_stderr():
        import tensorflow  # (its start-up notices are held back here)
    logger = tensorflow.get_logger()
    if _not_retracing not in logger.filters:
        logger.addFilter(_not_retracing)


def _warn(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, RuntimeWarning):
        print(
            f"{PROG}: warning: {settings_lib.to_command_line(settings_lib.one_line(message))}",
            file=sys.stderr,
        )


def _run(check, paint, args) -> int:
    """Checks before TensorFlow starts, then paints; every failure is one stderr line."""
    try:
        checked = check(args)
    except taskfile.TaskFileError as error:
        return _fail(settings_lib.one_line(error), EXIT_USAGE)
    except (ValueError, OSError) as error:
        return _fail(settings_lib.to_command_line(settings_lib.one_line(error)), EXIT_USAGE)
    except weights_lib.WeightsUnavailableError as error:
        return _fail(settings_lib.to_command_line(settings_lib.one_line(error)), EXIT_FAILURE)
    _start_tensorflow()
    previous = warnings.showwarning
    warnings.showwarning = _warn
    try:
        paint(checked, args)
    except ValueError as error:
        return _fail(settings_lib.to_command_line(settings_lib.one_line(error)), EXIT_USAGE)
    except weights_lib.WeightsUnavailableError as error:
        return _fail(settings_lib.to_command_line(settings_lib.one_line(error)), EXIT_FAILURE)
    except _Stopped as stopped:
        if stopped.asked:  # the user stopped it: no error
            print(f"{PROG}: {settings_lib.one_line(stopped)}", file=sys.stderr)
            return stopped.code
        return _fail(settings_lib.one_line(stopped), stopped.code)
    except KeyboardInterrupt:
        return _fail(
            "aborted; files written so far (checkpoints included) are intact", EXIT_INTERRUPTED
        )
    except OSError as error:  # a full disk, a lost mount: WriteError names the file
        return _fail(settings_lib.one_line(error), EXIT_FAILURE)
    finally:
        warnings.showwarning = previous
    return 0


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit code (0 on success)."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if not argv:  # the command alone: how to use it
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        args = parser.parse_args(argv)
    except _UsageError as error:
        return _fail(settings_lib.one_line(error), EXIT_USAGE)
    args.argv = list(argv)
    if args.command == "stylize":
        return _run(_check_stylize, _paint, args)
    if args.command == "video":
        return _run(_check_video, _paint_video, args)
    return _run(_check_sweep, _sweep, args)


if __name__ == "__main__":
    sys.exit(main())
