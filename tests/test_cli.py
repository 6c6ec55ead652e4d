"""The command line: a real (tiny) run, and one clean stderr line per mistake."""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_nst.cli import main

REPO = Path(__file__).resolve().parent.parent
TINY = [
    "--size", "32", "--steps", "3", "--weights", "random", "--quiet",
    "--content-layers", "block2_conv2", "--style-layers", "block1_conv1=0.5,block2_conv1=0.5",
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


def test_stylize_blends_several_styles(content_path, style_path, second_style_path, tmp_path):
    output = tmp_path / "blend.jpg"
    code = main([
        "stylize", str(content_path), str(style_path), str(second_style_path), "-o", str(output),
        *TINY, "--style-blend", "0.7,0.3", "--optimizer", "lbfgs", "--init", "content+noise",
    ])
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
        ({"content": "missing.jpg"}, r"`content` image file does not exist"),
        ({"extra": ["--style-layers", "blok1_conv1=1"]}, r"Did you mean 'block1_conv1'\?"),
        ({"extra": ["--style-weight", "-1"]}, r"`style_weight` must be a finite number >= 0"),
        ({"extra": ["--content-weight", "nan"]}, r"`content_weight` must be a finite number"),
        ({"extra": ["--pooling", "min"]}, r"`--pooling` must be one of"),
        ({"extra": ["--optimizer", "adamax"]}, r"`optimizer` must be one of"),
        ({"extra": ["--learning-rate", "0"]}, r"`learning_rate` must be a positive"),
        ({"extra": ["--size", "0"]}, r"`size` must be a positive integer"),
        ({"extra": ["--steps", "0"]}, r"`--steps` must be a positive integer"),
        ({"extra": ["--init", "static"]}, r"`init` must be one of"),
        ({"extra": ["--weights", "vgg.pth"]}, r"`weights` must be 'imagenet', None"),
        ({"extra": ["--weights", "missing.h5"]}, r"`weights` file does not exist"),
        ({"extra": ["--size", "big"]}, r"argument --size: invalid int value"),
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
    code = main(["stylize", content, str(style_path), "-o", output, *TINY, *change.get("extra", [])])
    assert code == 2
    assert re.search(message, _error_line(capsys))
    assert sorted(os.listdir(tmp_path)) == []


def test_corrupt_image_is_named(content_path, tmp_path, capsys):
    broken = tmp_path / "style.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    assert _run(content_path, broken, tmp_path / "out.png") == 2
    assert "`style`" in _error_line(capsys)
    assert not (tmp_path / "out.png").exists()


def _subprocess(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run(
        [sys.executable, "-m", "keras_nst", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=300,
    )


def test_python_m_error_is_one_clean_line_even_after_tensorflow_starts(content_path, style_path, tmp_path):
    # A corrupt weight file is only found once TensorFlow runs: its start-up notices must not
    # reach stderr, and no traceback either.
    weights = tmp_path / "vgg19.weights.h5"
    weights.write_bytes(b"not hdf5" * 10)
    result = _subprocess(
        "stylize", str(content_path), str(style_path), "-o", "out.png", "--size", "32",
        "--steps", "1", "--weights", str(weights), cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("keras-nst: error: `weights` file could not be loaded")
    assert not (tmp_path / "out.png").exists()


def test_help_lists_library_defaults(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["stylize", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--style-weight STYLE_WEIGHT beta (default: 10000.0)" in out
    assert "--init INIT" in out and "(default: content)" in out


def test_sigint_stops_cleanly_and_resume_matches_an_uninterrupted_run(content_path, style_path, tmp_path):
    common = [str(content_path), str(style_path), *TINY[:2], "--steps", "300", *TINY[4:],
              "--precision", "float32", "--checkpoint-every", "1000"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_nst", "stylize", *common, "-o", "cut.png"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # The CLI announces the painting once its signal handlers are in place.
        assert process.stdout.readline().startswith("Painting steps 1 to 300")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    assert process.returncode == 130
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "stopped by SIGINT at step" in lines[0], stderr
    assert "--resume cut.checkpoint" in lines[0]
    stopped_at = int(re.search(r"at step (\d+) of 300", lines[0]).group(1))
    assert 0 < stopped_at < 300
    assert (tmp_path / "cut.png").exists() and (tmp_path / "cut.checkpoint" / "checkpoint.npz").exists()

    resumed = subprocess.run(
        [sys.executable, "-m", "keras_nst", "stylize", *common, "-o", "cut.png", "--resume", "cut.checkpoint"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"Painting steps {stopped_at + 1} to 300" in resumed.stdout
    straight = main(["stylize", *common, "-o", str(tmp_path / "straight.png")])
    assert straight == 0
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "cut.png")), np.asarray(Image.open(tmp_path / "straight.png"))
    )


def test_nan_loss_keeps_the_last_good_image(content_path, style_path, tmp_path, monkeypatch, capsys):
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

    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out.png")), load_image(content_path, 32))


def test_resume_needs_a_checkpoint(content_path, style_path, tmp_path, capsys):
    assert _run(content_path, style_path, tmp_path / "out.png", "--resume", str(tmp_path)) == 2
    assert "`--resume` directory holds no checkpoint.npz" in _error_line(capsys)


def _write_task(tmp_path, text, name="task.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_task_file_supplies_settings_and_the_command_line_wins(content_path, style_path, tmp_path, capsys):
    task = _write_task(tmp_path, f"""
content = "{content_path}"
style = ["{style_path}"]
output = "painted.png"
size = 48
steps = 2
weights = "random"
style_weight = 1e5
content_layers = {{ block2_conv2 = 1.0 }}
style_layers = {{ block1_conv1 = 0.5, block2_conv1 = 0.5 }}
""")
    assert main(["stylize", "--task", task, "--size", "32", "--quiet"]) == 0
    with Image.open(tmp_path / "painted.png") as image:  # relative to the task file
        assert image.size == (32, 24)


@pytest.mark.parametrize("text, name, message", [
    ('stlye = "x.jpg"', "task.toml", r"unknown key 'stlye'\. Did you mean 'style'\?"),
    ('steps = "ten"', "task.toml", r"key 'steps' must be of type int\. Received: steps='ten'"),
    ('size = true', "task.toml", r"key 'size' must be of type int"),
    ('{"content_weight": [1]}', "task.json", r"key 'content_weight' must be of type int or float"),
    ('steps = ', "task.toml", r"`--task` file could not be read"),
    ('[1, 2]', "task.json", r"must hold a table of settings"),
    ('steps: 3', "task.yaml", r"must end in \.toml or \.json"),
])
def test_bad_task_files_are_one_line(tmp_path, capsys, text, name, message):
    task = _write_task(tmp_path, text, name)
    assert main(["stylize", "--task", task]) == 2
    assert re.search(message, _error_line(capsys))
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_missing_output_is_named(content_path, style_path, capsys):
    assert main(["stylize", str(content_path), str(style_path)]) == 2
    assert "`--output` is required" in _error_line(capsys)
