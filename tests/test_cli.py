"""The command line: a real (tiny) run, and one clean stderr line per mistake."""

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_nst import cli, settings, taskfile
from keras_nst.cli import main

REPO = Path(__file__).resolve().parent.parent
TINY = [
    "--size",
    "32",
    "--steps",
    "3",
    "--weights",
    "random",
    "--quiet",
    "--content-layers",
    "block2_conv2",
    "--style-layers",
    "block1_conv1=0.5,block2_conv1=0.5",
]


def _run(content_path, style_path, output, *extra):
    return main(["stylize", str(content_path), str(style_path), "-o", str(output), *TINY, *extra])


def test_stylize_writes_the_image_and_tensorboard_logs(content_path, style_path, tmp_path, capsys):
    output = tmp_path / "out.png"
    logdir = tmp_path / "logs" / "run"
    assert _run(content_path, style_path, output, "--logdir", str(logdir)) == 0
    with Image.open(output) as image:
        assert image.size == (32, 24) and image.mode == "RGB"
    assert list(logdir.glob("events.out.tfevents.*"))
    out = capsys.readouterr().out
    assert f"Wrote {output}" in out and "tensorboard --logdir" in out
    # A finished painting leaves its output and the logs asked for, no checkpoint beside them.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs", "out.png"]


def test_a_named_checkpoint_dir_keeps_its_checkpoint_and_a_users_files(
    content_path, style_path, tmp_path
):
    named, default = tmp_path / "kept", tmp_path / "mine.checkpoint"
    assert _run(content_path, style_path, tmp_path / "a.png", "--checkpoint-dir", str(named)) == 0
    assert sorted(os.listdir(named)) == ["checkpoint.npz"]
    # The default folder beside the output loses only the checkpoint it wrote.
    default.mkdir()
    (default / "notes.txt").write_text("mine")
    assert _run(content_path, style_path, tmp_path / "mine.png") == 0
    assert sorted(os.listdir(default)) == ["notes.txt"]


def test_stylize_blends_several_styles(content_path, style_path, second_style_path, tmp_path):
    output = tmp_path / "blend.jpg"
    code = main(
        [
            "stylize",
            str(content_path),
            str(style_path),
            str(second_style_path),
            "-o",
            str(output),
            *TINY,
            "--style-blend",
            "0.7,0.3",
            "--optimizer",
            "lbfgs",
            "--init",
            "content+noise",
        ]
    )
    assert code == 0 and output.exists()


def _error_line(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("keras-nst: error: ")
    return lines[0]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"content": "missing.jpg"}, r"`CONTENT` image file does not exist"),
        ({"extra": ["--style-layers", "blok1_conv1=1"]}, r"Did you mean 'block1_conv1'\?"),
        ({"extra": ["--style-weight", "-1"]}, r"`--style-weight` must be a finite number >= 0"),
        ({"extra": ["--content-weight", "nan"]}, r"`--content-weight` must be a finite number"),
        ({"extra": ["--pooling", "min"]}, r"`--pooling` must be one of"),
        ({"extra": ["--optimizer", "adamax"]}, r"`--optimizer` must be one of"),
        (
            {"extra": ["--scale-optimizer", "bfgs"]},
            r"`--scale-optimizer` must be one of \('adam', 'rmsprop', 'sgd', 'lbfgs'\) or None \(none: one optimizer throughout\)\. Received: --scale-optimizer='bfgs'",
        ),
        ({"extra": ["--learning-rate", "0"]}, r"`--learning-rate` must be a positive"),
        ({"extra": ["--size", "0"]}, r"`--size` must be a positive integer"),
        ({"extra": ["--steps", "0"]}, r"`--steps` must be a positive integer"),
        ({"extra": ["--init", "static"]}, r"`--init` must be one of"),
        (
            {"extra": ["--weights", "vgg.pth"]},
            r"`--weights` must be one of auto, imagenet, vgg16-hed, random or a VGG-19 weight file",
        ),
        ({"extra": ["--weights", "missing.h5"]}, r"`--weights` file does not exist"),
        (
            {"extra": ["--size", "big"]},
            r"`--size` must be a positive integer or 'auto'. Received: --size='big'",
        ),
        ({"extra": ["--colour"]}, r"unrecognized arguments: --colour"),
        ({"output": "nowhere/out.png"}, r"`--output`'s directory does not exist"),
        ({"output": "out.xyz"}, r"`--output` must end with an image extension"),
        ({"output": "."}, r"`--output` must be a file path, not a directory"),
    ],
)
def test_bad_input_is_one_line_and_no_output(
    content_path, style_path, tmp_path, monkeypatch, capsys, change, message
):
    monkeypatch.chdir(tmp_path)
    content = change.get("content", str(content_path))
    output = change.get("output", "out.png")
    code = main(
        ["stylize", content, str(style_path), "-o", output, *TINY, *change.get("extra", [])]
    )
    assert code == 2
    assert re.search(message, _error_line(capsys))
    assert sorted(os.listdir(tmp_path)) == []


def test_corrupt_image_is_named(content_path, tmp_path, capsys):
    broken = tmp_path / "style.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    assert _run(content_path, broken, tmp_path / "out.png") == 2
    assert "`STYLE`" in _error_line(capsys)
    assert not (tmp_path / "out.png").exists()


def _subprocess(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run(
        [sys.executable, "-m", "keras_nst", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_python_m_error_is_one_clean_line_even_after_tensorflow_starts(
    content_path, style_path, tmp_path
):
    # A corrupt weight file is only found once TensorFlow runs: its start-up notices must not
    # reach stderr, and no traceback either.
    weights = tmp_path / "vgg19.weights.h5"
    weights.write_bytes(b"not hdf5" * 10)
    result = _subprocess(
        "stylize",
        str(content_path),
        str(style_path),
        "-o",
        "out.png",
        "--size",
        "32",
        "--steps",
        "1",
        "--weights",
        str(weights),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("keras-nst: error: `--weights` file could not be loaded")
    assert not (tmp_path / "out.png").exists()


def test_help_lists_library_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["stylize", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "--style-weight STYLE_WEIGHT beta (the paper's 1e4 goes with calibration gatys2015) (default: 10)"
        in out
    )
    assert "--init INIT" in out and "(default: content)" in out


def test_a_stop_counts_the_steps_of_the_whole_schedule(
    content_path, style_path, tmp_path, monkeypatch, capsys
):
    """Coarse to fine, `--steps` is per scale: the stop message counts all the scales' steps."""
    from keras_nst import painting

    def stopped(task, **kwargs):
        return painting.Painting(
            images=None,
            model=None,
            history=None,
            steps=6,
            seconds=0.0,
            output=Path(kwargs["output"]),
            checkpoint_dir=kwargs["checkpoint_dir"],
            stopped_by="SIGTERM",
        )

    monkeypatch.setattr(painting, "stylize", stopped)
    monkeypatch.chdir(tmp_path)
    args = [
        str(content_path),
        str(style_path),
        "--size",
        "64",
        "--min-size",
        "32",
        "--steps",
        "4",
        "--weights",
        "random",
        "--quiet",
        "-o",
        "out.png",
    ]
    task, _, chosen = cli._check_stylize(cli.build_parser().parse_args(["stylize", *args]))
    total = painting.default_schedule(task, painting.painting_settings(chosen)).total_steps
    assert total == 12  # 32, 45 and 64 px, 4 steps each
    assert main(["stylize", *args]) == 128 + signal.SIGTERM
    lines = capsys.readouterr().err.strip().splitlines()
    # Asked for: a stop, not an error; and the command that goes on, to copy as it is.
    assert len(lines) == 1 and lines[0].startswith("keras-nst: stopped by SIGTERM"), lines
    assert f"stopped by SIGTERM at step 6 of {total};" in lines[0]
    resume = lines[0].split("Resume with: ")[1]
    assert shlex.split(resume) == ["keras-nst", "stylize", *args, "--resume", "out.checkpoint"]


@pytest.mark.slow
def test_sigint_stops_cleanly_and_resume_matches_an_uninterrupted_run(
    content_path, style_path, tmp_path
):
    common = [
        str(content_path),
        str(style_path),
        *TINY[:2],
        "--steps",
        "120",
        *TINY[4:],
        "--precision",
        "float32",
        "--checkpoint-every",
        "1000",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_nst", "stylize", *common, "-o", "cut.png"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The CLI announces the painting once its signal handlers are in place.
        assert process.stdout.readline().startswith("Painting steps 1 to 120")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 130
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "stopped by SIGINT at step" in lines[0], stderr
    assert "--resume cut.checkpoint" in lines[0]
    stopped_at = int(re.search(r"at step (\d+) of 120", lines[0]).group(1))
    assert 0 < stopped_at < 120
    assert (tmp_path / "cut.png").exists() and (
        tmp_path / "cut.checkpoint" / "checkpoint.npz"
    ).exists()

    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_nst",
            "stylize",
            *common,
            "-o",
            "cut.png",
            "--resume",
            "cut.checkpoint",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"Painting steps {stopped_at + 1} to 120" in resumed.stdout
    straight = main(["stylize", *common, "-o", str(tmp_path / "straight.png")])
    assert straight == 0
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "cut.png")),
        np.asarray(Image.open(tmp_path / "straight.png")),
    )


def test_nan_loss_keeps_the_last_good_image(
    content_path, style_path, tmp_path, monkeypatch, capsys
):
    from keras_nst import losses

    def poisoned(images):
        return losses.content_loss(images, images) * float("nan")

    monkeypatch.setattr(losses, "total_variation_loss", poisoned)
    code = _run(content_path, style_path, tmp_path / "out.png", "--init", "content")
    assert code == 3
    line = _error_line(capsys)
    assert "the loss became NaN or Inf at step 1 (loss" in line and "lower --learning-rate" in line
    # Not one step had finite losses: the initial image (the content photo) is kept.
    from keras_nst import load_image

    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "out.png")), load_image(content_path, 32)
    )


def test_resume_needs_a_checkpoint(content_path, style_path, tmp_path, capsys):
    assert _run(content_path, style_path, tmp_path / "out.png", "--resume", str(tmp_path)) == 2
    assert "`--resume` directory holds no checkpoint.npz" in _error_line(capsys)


def _write_task(tmp_path, text, name="task.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_task_file_supplies_settings_and_the_command_line_wins(
    content_path, style_path, tmp_path, capsys
):
    task = _write_task(
        tmp_path,
        f"""
content = "{content_path}"
style = ["{style_path}"]
output = "painted.png"
size = 48
steps = 2
weights = "random"
style_weight = 1e5
content_layers = {{ block2_conv2 = 1.0 }}
style_layers = {{ block1_conv1 = 0.5, block2_conv1 = 0.5 }}
""",
    )
    assert main(["stylize", "--task", task, "--size", "32", "--quiet"]) == 0
    with Image.open(tmp_path / "painted.png") as image:  # relative to the task file
        assert image.size == (32, 24)


@pytest.mark.parametrize(
    "text, name, message",
    [
        ('stlye = "x.jpg"', "task.toml", r"unknown key 'stlye'\. Did you mean 'style'\?"),
        ('steps = "ten"', "task.toml", r"key 'steps' must be of type int\. Received: steps='ten'"),
        ("size = true", "task.toml", r"key 'size' must be of type int"),
        (
            '{"content_weight": [1]}',
            "task.json",
            r"key 'content_weight' must be of type int or float",
        ),
        ("steps = ", "task.toml", r"`--task` file could not be read"),
        ("[1, 2]", "task.json", r"must hold a table of settings"),
        ("steps: 3", "task.yaml", r"must end in \.toml or \.json"),
    ],
)
def test_bad_task_files_are_one_line(tmp_path, capsys, text, name, message):
    task = _write_task(tmp_path, text, name)
    assert main(["stylize", "--task", task]) == 2
    assert re.search(message, _error_line(capsys))
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize(
    "text, option, message",
    [
        # Wrong in the file, even where the command line's option wins over it.
        ('size = "big"', ["--size", "32"], r"`size` must be a positive integer or 'auto'"),
        ("steps = 0", ["--steps", "3"], r"`steps` must be"),
        ('pooling = "maxx"', ["--pooling", "max"], r"`pooling` must be one of"),
        ('max_memory = "12 parsecs"', [], r"`max_memory` must be a positive number of bytes"),
        ('weights = "imagenett"', [], r"`weights` must be one of"),
    ],
)
def test_every_value_of_a_task_file_is_checked_even_where_an_option_wins(
    content_path, style_path, tmp_path, capsys, text, option, message
):
    task = _write_task(tmp_path, text)
    out = tmp_path / "o.png"
    argv = ["stylize", str(content_path), str(style_path), "-o", str(out), "--task", task]
    assert main([*argv, *option]) == 2
    line = _error_line(capsys)
    assert line.startswith("keras-nst: error: `--task` file: ")
    assert re.search(message, line) and line.endswith(f"in --task='{task}'")
    assert not out.exists()


def test_a_task_file_sets_the_videos_settings_too(tmp_path):
    task = _write_task(tmp_path, "temporal_weight = 5\nframe_steps = 2\nfps = 4\nsteps = 3\n")
    args = cli.build_parser().parse_args(
        ["video", "clip.gif", "style.jpg", "-o", "out.gif", "--task", task, "--fps", "8"]
    )
    values = cli._settings(args)
    assert (values["temporal_weight"], values["frame_steps"], values["steps"]) == (5, 2, 3)
    assert values["fps"] == 8.0  # the command line wins
    # A picture's task file has no video settings.
    with pytest.raises(taskfile.TaskFileError, match=r"unknown key 'temporal_weight'"):
        taskfile.read(task)


def test_missing_output_is_named(content_path, style_path, capsys):
    assert main(["stylize", str(content_path), str(style_path)]) == 2
    assert "`--output` is required" in _error_line(capsys)


# === Nothing of the user's is lost, and every output is checked before anything starts ===


@pytest.fixture
def workspace(content_path, style_path, tmp_path, monkeypatch):
    """A folder holding the run's inputs, as a user's would; the CLI runs inside it."""
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copy(content_path, "photo.jpg")
    shutil.copy(style_path, "style.jpg")
    shutil.copy(style_path, "init.png")
    Path("notes.txt").write_text("a file where a directory should be")
    Path("sub").mkdir()
    Path("w").mkdir()
    Path("w/vgg.weights.h5").write_bytes(b"weights")
    Path("conf").mkdir()
    Path("conf/task.toml").write_text("steps = 1\n")

    # Any resizing before a refusal would mean work (and memory) spent on a doomed run.
    def no_resizing(*args, **kwargs):
        raise AssertionError("an image was resized before the arguments were refused")

    monkeypatch.setattr("keras_nst.task.resize_longest_side", no_resizing)
    return tmp_path


def _snapshot(folder):
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


LONG = "x" * 300 + ".jpg"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["-o", "photo.jpg"], r"`--output` would write over the `CONTENT` input 'photo\.jpg'"),
        (["-o", "style.jpg"], r"`--output` would write over the `STYLE` input 'style\.jpg'"),
        (["-o", "sub/../photo.jpg"], r"`--output` would write over the `CONTENT` input"),
        (
            ["-o", "init.png", "--init", "init.png"],
            r"`--output` would write over the `--init` input",
        ),
        (["-o", "out.png", "--logdir", "."], r"`--logdir` holds the `CONTENT` input 'photo\.jpg'"),
        (
            ["-o", "out.png", "--checkpoint-dir", "."],
            r"`--checkpoint-dir` holds the `CONTENT` input",
        ),
        (
            ["-o", "out.png", "--weights", "w/vgg.weights.h5", "--checkpoint-dir", "w"],
            r"`--checkpoint-dir` holds the `--weights` input 'w/vgg\.weights\.h5'",
        ),
        (
            ["-o", "out.png", "--task", "conf/task.toml", "--logdir", "conf"],
            r"`--logdir` holds the `--task` input",
        ),
        (
            ["-o", "out.png", "--checkpoint-dir", "notes.txt"],
            r"`--checkpoint-dir` must be a directory, but is a file",
        ),
        (
            ["-o", "out.png", "--logdir", "notes.txt"],
            r"`--logdir` must be a directory, but is a file",
        ),
        (
            ["-o", "out.png", "--logdir", "notes.txt/run1"],
            r"`--logdir` must be a directory, but '.*notes\.txt' is a file",
        ),
        (
            ["-o", "notes.txt.png", "--logdir", "notes.txt.png"],
            r"`--output` and `--logdir` must be different places",
        ),
        (
            ["-o", "out.png", "--logdir", "/proc/keras-nst/run1"],
            r"`--logdir`'s directory is not writable: '/proc'",
        ),
        (
            ["-o", LONG[:-4] + ".png"],
            r"`--output` has a name of 304 bytes; this file system allows at most 255",
        ),
        (["-o", "x" * 250 + ".png"], r"`--checkpoint-dir` has a name of 261 bytes"),
        (
            ["-o", "out.png", "--size", "1000000000"],
            r"`--size` is too large: 1 image\(s\) of 1000000000x750000000 need",
        ),
        (["-o", "out.png", "--style-size", "1000000000"], r"`--style-size` is too large"),
        (
            ["-o", "out.png", "--size", "16000"],
            r"`--size` is too large: even tile by tile, painting 1 image\(s\) of 16000x12000 needs",
        ),
    ],
)
def test_bad_output_paths_are_refused_before_anything_starts(workspace, capsys, argv, message):
    if "/proc" in " ".join(argv) and not os.path.isdir("/proc/self"):
        pytest.skip("needs Linux's /proc")
    before = _snapshot(workspace)
    code = main(["stylize", "photo.jpg", "style.jpg", *TINY, *argv])
    assert code == 2
    assert re.search(message, _error_line(capsys))
    assert _snapshot(workspace) == before


def test_a_content_name_too_long_is_one_line(workspace, capsys):
    assert main(["stylize", LONG, "style.jpg", "-o", "out.png", *TINY]) == 2
    assert "`CONTENT` image file could not be looked up (File name too long)" in _error_line(capsys)


def test_no_clobber_refuses_existing_outputs(workspace, capsys):
    Path("out.png").write_bytes(b"an earlier painting")
    assert main(["stylize", "photo.jpg", "style.jpg", "-o", "out.png", "--no-clobber", *TINY]) == 2
    assert "`--output` already exists and --no-clobber asks not to replace it" in _error_line(
        capsys
    )
    Path("new.checkpoint").mkdir()
    Path("new.checkpoint/checkpoint.npz").write_bytes(b"an earlier checkpoint")
    assert main(["stylize", "photo.jpg", "style.jpg", "-o", "new.png", "--no-clobber", *TINY]) == 2
    line = _error_line(capsys)
    assert "`--checkpoint-dir` already holds a checkpoint and --no-clobber" in line
    assert "--resume='new.checkpoint' continues it" in line
    assert Path("out.png").read_bytes() == b"an earlier painting"


def test_an_existing_output_that_is_no_input_is_replaced(workspace, capsys, monkeypatch):
    monkeypatch.undo()  # resizing allowed: this one paints
    os.chdir(workspace)
    Path("out.png").write_bytes(b"an earlier painting")
    assert main(["stylize", "photo.jpg", "style.jpg", "-o", "out.png", *TINY]) == 0
    with Image.open("out.png") as image:
        assert image.size == (32, 24)


def test_a_named_pipe_is_refused_not_read(workspace, capsys):
    import threading

    os.mkfifo("pipe.jpg")
    opened = []

    def writer():
        # If the CLI wrongly opened the pipe, this feeds it junk so that it cannot hang.
        with open("pipe.jpg", "wb") as handle:
            opened.append(True)
            handle.write(b"junk")

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    code = main(["stylize", "pipe.jpg", "style.jpg", "-o", "out.png", *TINY])
    reader = os.open("pipe.jpg", os.O_RDONLY | os.O_NONBLOCK)  # lets the writer finish
    thread.join()
    os.close(reader)
    assert code == 2
    assert "`CONTENT` must be an image file, not a named pipe" in _error_line(capsys)


def test_sweep_refuses_a_folder_holding_its_inputs(workspace, capsys):
    code = main(
        [
            "sweep",
            "content",
            "photo.jpg",
            "init.png",
            "--style",
            "style.jpg",
            "-o",
            ".",
            "--size",
            "32",
            "--steps",
            "1",
            "--weights",
            "random",
        ]
    )
    assert code == 2
    assert "`--output-dir` holds the `CONTENT` input 'photo.jpg'" in _error_line(capsys)


def _full_disk_for(monkeypatch, name, after=0):
    """Writes of files called `name` hit a full disk (ENOSPC from /dev/full) after `after` good ones."""
    import tempfile

    real_mkstemp = tempfile.mkstemp
    calls = []

    def mkstemp(*args, prefix="", **kwargs):
        descriptor, path = real_mkstemp(*args, prefix=prefix, **kwargs)
        if prefix.startswith(f".{name}."):
            calls.append(path)
            if len(calls) > after:
                full = os.open("/dev/full", os.O_WRONLY)
                os.dup2(full, descriptor)
                os.close(full)
        return descriptor, path

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_for_the_output_is_one_line(workspace, capsys, monkeypatch):
    monkeypatch.undo()
    os.chdir(workspace)
    _full_disk_for(monkeypatch, "out.png")
    assert main(["stylize", "photo.jpg", "style.jpg", "-o", "out.png", *TINY]) == 1
    line = _error_line(capsys)
    assert re.search(r"could not write the image 'out\.png' \(No space left on device\)", line)
    assert not Path("out.png").exists()
    assert not list(workspace.glob(".out.png.*"))  # no temporary file left


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_for_a_checkpoint_keeps_the_previous_one(workspace, capsys, monkeypatch):
    monkeypatch.undo()
    os.chdir(workspace)
    _full_disk_for(monkeypatch, "checkpoint.npz", after=1)
    argv = [
        "stylize",
        "photo.jpg",
        "style.jpg",
        "-o",
        "out.png",
        *TINY[:2],
        "--steps",
        "6",
        *TINY[4:],
        "--checkpoint-every",
        "2",
    ]
    assert main(argv) == 1
    line = _error_line(capsys)
    assert re.search(
        r"could not write the checkpoint of step 4 'out\.checkpoint/checkpoint\.npz' "
        r"\(No space left on device\); the checkpoint of step 2 is intact",
        line,
    )
    from keras_nst.checkpoints import read_checkpoint

    _, metadata = read_checkpoint("out.checkpoint")
    assert metadata["step"] == 2
    assert sorted(os.listdir("out.checkpoint")) == ["checkpoint.npz"]


def test_a_checkpoint_directory_in_use_is_refused(workspace, capsys):
    from keras_nst import paths

    with paths.exclusive_directory("out.checkpoint", "--checkpoint-dir"):
        assert main(["stylize", "photo.jpg", "style.jpg", "-o", "out.png", *TINY]) == 2
    assert "`--checkpoint-dir` 'out.checkpoint' is in use by another run" in _error_line(capsys)
    assert not Path("out.png").exists()


@pytest.mark.slow  # one of the slowest: make test runs it, make test-fast not
def test_an_option_given_at_its_default_still_wins_over_the_task_file(
    content_path, style_path, tmp_path
):
    task = _write_task(
        tmp_path,
        f"""
content = "{content_path}"
style = "{style_path}"
output = "painted.png"
size = 48
steps = 1
weights = "random"
content_layers = {{ block1_conv1 = 1.0 }}
style_layers = {{ block1_conv1 = 1.0 }}
""",
    )
    # 512 is --size's default: it was once taken as "not given" and lost to the file's 48.
    assert main(["stylize", "--task", task, "--size", "512", "--quiet"]) == 0
    with Image.open(tmp_path / "painted.png") as image:
        assert image.size == (512, 384)


def test_the_shipped_w2_preset_paints_and_yields_to_task_files_and_options(
    content_path, style_path, tmp_path
):
    from keras_nst import presets

    w2 = presets.get("w2")
    assert w2["style_loss"] == "mean_cov" and w2["pooling"] == "max"
    assert w2["scale_optimizer"] == "lbfgs" and w2["optimizer"] == "adam"
    assert sum(w2["style_layers"].values()) == pytest.approx(1.0, abs=1e-3)
    # Every key is a setting, of a type a task file may give it.
    for key, value in w2.items():
        assert isinstance(value, settings.BY_NAME[key].types)
    base = ["stylize", str(content_path), str(style_path), "-o", str(tmp_path / "o.png")]
    values = cli._settings(cli.build_parser().parse_args([*base, "--preset", "w2"]))
    assert {key: values[key] for key in w2} == w2
    # A --task file wins over the preset, and the command line over both.
    task_file = tmp_path / "task.toml"
    task_file.write_text('pooling = "avg"\nstyle_weight = 7\n')
    values = cli._settings(
        cli.build_parser().parse_args(
            [*base, "--preset", "w2", "--task", str(task_file), "--style-weight", "9"]
        )
    )
    assert values["pooling"] == "avg" and values["style_weight"] == 9.0
    assert values["style_loss"] == "mean_cov" and values["learning_rate"] == 1.0
    output = tmp_path / "painted.png"
    assert (
        main(
            [
                "stylize",
                str(content_path),
                str(style_path),
                "--preset",
                "w2",
                "-o",
                str(output),
                "--size",
                "32",
                "--steps",
                "1",
                "--min-size",
                "0",
                "--weights",
                "random",
                "--quiet",
            ]
        )
        == 0
    )
    with Image.open(output) as image:
        assert image.size == (32, 24)


def test_an_unknown_preset_is_one_line_naming_the_option(
    content_path, style_path, tmp_path, capsys
):
    from keras_nst import presets

    with pytest.raises(
        ValueError,
        match=r"^`preset` must be one of \('w2', 'w2-strong', 'gatys2015'\)\. Received: preset='w3'$",
    ):
        presets.get("w3")
    code = main(
        [
            "stylize",
            str(content_path),
            str(style_path),
            "--preset",
            "w3",
            "-o",
            str(tmp_path / "o.png"),
        ]
    )
    assert code == 2
    assert (
        _error_line(capsys)
        == "keras-nst: error: `--preset` must be one of ('w2', 'w2-strong', 'gatys2015'). Received: --preset='w3'"
    )
    assert not (tmp_path / "o.png").exists()


def test_the_gatys2015_preset_is_the_papers_settings_and_the_sweeps_arithmetic(
    content_path, style_path, tmp_path
):
    from keras_nst import experiments, presets

    paper = presets.get("gatys2015")
    # Gatys, Ecker and Bethge (2015): alpha/beta = 1e-3 in their normalisation, conv4_2 for
    # content and conv1_1 ... conv5_1 at 1/5 each (the defaults), average pooling, L-BFGS
    # from white noise, one scale, the last iterate, VGG-19's zero padding.
    assert paper["calibration"] == "gatys2015"
    assert paper["content_weight"] / paper["style_weight"] == pytest.approx(1e-3)
    assert (paper["optimizer"], paper["init"], paper["pooling"]) == ("lbfgs", "noise", "avg")
    assert (paper["min_size"], paper["average"], paper["padding"]) == (0, 0.0, "zeros")
    assert settings.BY_NAME["content_layers"].default == {"block4_conv2": 1.0}
    assert set(settings.BY_NAME["style_layers"].default.values()) == {0.2}
    # The sweeps reproduce the paper's arithmetic, from the same entry.
    assert experiments.PAPER_SETTINGS == {key: paper[key] for key in experiments.PAPER_SETTINGS}
    base = ["stylize", str(content_path), str(style_path), "-o", str(tmp_path / "o.png")]
    values = cli._settings(cli.build_parser().parse_args([*base, "--preset", "gatys2015"]))
    assert {key: values[key] for key in paper} == paper
    # Every preset has a description, and --help shows them.
    assert set(presets.DESCRIPTIONS) == set(presets.PRESETS)
    help_text = " ".join(
        cli.build_parser()._subparsers._group_actions[0].choices["stylize"].format_help().split()
    )
    for name, text in presets.DESCRIPTIONS.items():
        assert f"{name}: {' '.join(text.split())}" in help_text


def test_none_turns_an_optional_choice_off_in_a_task_file_as_on_the_command_line(tmp_path):
    # A TOML file cannot hold None: "none" means it there, as it does on the command line.
    task_file = tmp_path / "task.toml"
    task_file.write_text('scale_optimizer = "none"\npreserve_color = "luminance"\n')
    values = taskfile.read(str(task_file))
    assert values["scale_optimizer"] is None and values["preserve_color"] == "luminance"
    args = cli.build_parser().parse_args(["stylize", "a.jpg", "b.jpg", "--scale-optimizer", "none"])
    assert args.scale_optimizer is None


def test_the_first_line_names_each_scale_and_its_optimizer(
    content_path, style_path, tmp_path, capsys
):
    from keras_nst.schedule import Schedule, Stage

    assert (
        cli._stages_text(
            Schedule([Stage(128, 2, "lbfgs"), Stage(181, 2, "lbfgs"), Stage(256, 2)]), "adam"
        )
        == " with L-BFGS at 128, 181 px, then Adam at 256 px"
    )
    assert (
        cli._stages_text(Schedule([Stage(128, 2), Stage(256, 2)]), "rmsprop") == " at 128, 256 px"
    )
    assert cli._stages_text(Schedule([Stage(256, 2)]), "adam") == ""
    assert _run(content_path, style_path, tmp_path / "out.png", "--min-size", "16") == 0
    assert capsys.readouterr().out.startswith(
        "Painting steps 1 to 9 with L-BFGS at 16, 23 px, then Adam at 32 px on random VGG-19 "
        "weights (seed 0), under a minute on this machine;"
    )


def test_the_first_line_names_the_scales_painted_tile_by_tile():
    from keras_nst.schedule import Schedule, Stage

    schedule = Schedule([Stage(1024, 2, "lbfgs"), Stage(1448, 2), Stage(2048, 2)])
    assert cli._tiles_text(schedule, (0, 0, 0)) == ""
    assert (
        cli._tiles_text(schedule, (1200, 1200, 1200))
        == " (tile by tile where larger than 1200 px: 1448, 2048 px)"
    )
    assert cli._tiles_text(schedule, (960, 1232, 1232)) == (
        " (tile by tile: 1024 px in tiles of 960 px, 1448 px in tiles of 1232 px, 2048 px in tiles of 1232 px)"
    )
    frames = Schedule([Stage(1024, 2, "lbfgs"), Stage(2048, 2)] + [Stage(2048, 1)] * 3)  # a clip
    assert (
        cli._tiles_text(frames, (0, 1232, 1232, 1232, 1232))
        == " (tile by tile where larger than 1232 px: 2048 px)"
    )


def test_tensorflows_retracing_warning_is_dropped_and_its_other_warnings_kept():
    # A painting traces its step once per scale; with a step or two per scale TensorFlow
    # warns "5 out of the last 5 calls ... triggered tf.function retracing" on stderr.
    import logging

    import tensorflow as tf

    cli._start_tensorflow()
    cli._start_tensorflow()  # (main may run twice in one process: one filter, not two)
    logger = tf.get_logger()
    assert logger.filters.count(cli._not_retracing) == 1

    def record(message):
        return logging.LogRecord("tensorflow", logging.WARNING, __file__, 1, message, None, None)

    retracing = "5 out of the last 5 calls to <function f at 0x1> triggered tf.function retracing. Tracing is"
    assert not logger.filter(record(retracing))
    assert logger.filter(record("Gradients do not exist for variables"))


# === Help pages and option parsing, as a newcomer meets them ===


def test_the_command_alone_prints_its_usage_and_version_is_an_option(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: keras-nst") and "stylize" in err and "example:" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    from keras_nst import __version__

    assert capsys.readouterr().out.strip() == f"keras-nst {__version__}"


@pytest.mark.parametrize(
    "argv, meant",
    [
        (["stylize", "a.jpg", "b.jpg", "-o", "c.png", "--stpes", "3"], "--steps"),
        # A prefix of an option is not taken for it: --step is refused, not read as --steps.
        (["stylize", "a.jpg", "b.jpg", "-o", "c.png", "--step", "5"], "--steps"),
        (["video", "c.gif", "b.jpg", "-o", "c.gif", "--temporal-wieght=3"], "--temporal-weight"),
    ],
)
def test_a_misspelt_option_is_refused_with_the_one_meant(capsys, argv, meant):
    assert main(argv) == 2
    line = _error_line(capsys)
    assert (
        line
        == f"keras-nst: error: unrecognized option {argv[-1] if '=' in argv[-1] else argv[-2]}: did you mean {meant}?"
    )


@pytest.mark.parametrize("command", ["stylize", "video", "sweep"])
def test_every_help_page_has_an_example_and_prints_each_default_once(command):
    parser = cli.build_parser()._subparsers._group_actions[0].choices[command]
    text = parser.format_help()
    assert text.count("example:") == 1 and f"keras-nst {command} " in text.split("example:")[1]
    # The usage line names what is required as required.
    assert parser.format_usage().split()[3:5] in (
        ["CONTENT", "STYLE"],
        ["INPUT", "STYLE"],
        ["EXPERIMENT", "CONTENT"],
    )
    for action in parser._actions:
        assert (action.help or "").count("(default") <= 1, action.help
    flat = " ".join(text.split())
    assert "1.4142135623730951" not in flat
    if command != "sweep":
        assert "--tv-weight TV_WEIGHT" in flat and "--task FILE" in flat


def test_sweep_style_never_swallows_the_photo(content_path, style_path, tmp_path):
    args = cli.build_parser().parse_args(
        ["sweep", "init", "--style", str(style_path), str(content_path), "-o", str(tmp_path)]
    )
    assert args.content == [str(content_path)] and args.style == [str(style_path)]
    several = cli.build_parser().parse_args(
        ["sweep", "style", "c.jpg", "--style", "a.jpg", "--style", "b.jpg", "-o", "out"]
    )
    assert several.style == ["a.jpg", "b.jpg"]


def test_the_tensorboard_hint_names_a_command_that_runs_here(monkeypatch, capsys):
    monkeypatch.setattr(cli.shutil, "which", lambda name: None)  # not on the PATH
    cli._print_tensorboard_hint("logs/run", "logs")
    line = capsys.readouterr().out.strip()
    command = line.split(": ", 1)[1].split(" --logdir")[0]
    beside = Path(sys.executable).parent / "tensorboard"
    assert command == (str(beside) if beside.exists() else f"{sys.executable} -m tensorboard.main")
    assert line.endswith("--logdir logs")


def test_a_second_run_into_the_same_logdir_replaces_the_first_ones_curves(
    content_path, style_path, tmp_path, capsys
):
    from conftest import read_events

    logdir = tmp_path / "logs" / "run"
    argv = [
        "stylize",
        str(content_path),
        str(style_path),
        "-o",
        str(tmp_path / "out.png"),
        *TINY,
        "--steps",
        "3",
        "--logdir",
        str(logdir),
    ]
    assert main(argv) == 0
    assert main(argv) == 0
    # One run's events, steps 1 to 3 once: TensorBoard draws one curve, not a zig-zag.
    assert len(list(logdir.glob("events.out.tfevents.*"))) == 1
    steps = [event.step for event in read_events(logdir).Tensors("loss")]
    assert steps == sorted(set(steps)) and len(steps) == 3
    capsys.readouterr()
    other = [str(tmp_path / "other.png") if word.endswith("out.png") else word for word in argv]
    assert main([*other, "--no-clobber"]) == 2
    line = _error_line(capsys)
    assert "`--logdir` holds the TensorBoard events of an earlier run" in line


def test_the_first_line_says_roughly_how_long_the_whole_painting_takes(style_path):
    """From the operations of each stage's steps and this machine's measured rate."""
    from keras_nst import StyleTask, painting, timing
    from keras_nst.task import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS

    task = StyleTask(np.zeros((384, 512, 3), np.uint8), style_path, size=512)
    values = painting.painting_settings({})
    schedule = painting.default_schedule(task, values)
    layers = [*DEFAULT_CONTENT_LAYERS, *DEFAULT_STYLE_LAYERS]
    rate = 1e11  # operations a second
    seconds = timing.estimate_seconds(task, schedule, layers, flops=rate)
    per_step = {
        stage.size: 3
        * timing.forward_flops(
            task.at_size(stage.size).height, task.at_size(stage.size).width, "block5_conv1"
        )
        / (rate * timing.EFFICIENCY)
        + timing.STEP_OVERHEAD
        for stage in schedule.stages
    }
    assert seconds == pytest.approx(sum(per_step[s.size] * s.steps for s in schedule.stages))
    # A resumed painting: only the steps left.
    half = timing.estimate_seconds(task, schedule, layers, done=2000, flops=rate)
    assert half == pytest.approx(per_step[512] * 500)
    # conv1_1 at 512 x 384: 2 * 9 * 3 * 64 operations at each of its positions.
    assert timing.forward_flops(384, 512, "block1_conv1") == 2 * 9 * 3 * 64 * 384 * 512
    assert timing.roughly(30) == "under a minute" and timing.roughly(3000) == "about 50 minutes"
    assert timing.roughly(3 * 3600) == "about 3.0 hours"


def test_the_w2_strong_preset_is_w2_with_a_strong_style_and_a_second_content_layer():
    from keras_nst import presets

    w2, strong = presets.get("w2"), presets.get("w2-strong")
    assert {k: v for k, v in strong.items() if k not in ("style_weight", "content_layers")} == {
        k: v for k, v in w2.items() if k not in ("style_weight", "content_layers")
    }
    assert strong["style_weight"] == 30 * w2["style_weight"]
    assert strong["content_layers"] == {"block4_conv2": 1.0, "block2_conv2": 1.0}
    for key, value in strong.items():
        assert isinstance(value, settings.BY_NAME[key].types)
