"""Hard faults: a SIGKILL at any moment, or two runs at once, never lose or mix a painting."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_nst.checkpoints import read_checkpoint
from keras_nst.cli import main

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TINY = [
    "--size",
    "32",
    "--weights",
    "random",
    "--quiet",
    "--precision",
    "float32",
    "--content-layers",
    "block2_conv2",
    "--style-layers",
    "block1_conv1=0.5,block2_conv1=0.5",
]

pytestmark = pytest.mark.slow


def _env():
    return {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}


def _complete_image(path):
    with Image.open(path) as image:
        image.load()  # a half-written file fails here
        return np.asarray(image)


def test_sigkill_at_any_moment_loses_nothing(content_path, style_path, tmp_path):
    common = [
        "stylize",
        str(content_path),
        str(style_path),
        *TINY,
        "--steps",
        "12",
        "--checkpoint-every",
        "2",
    ]
    assert main([*common, "-o", str(tmp_path / "straight.png")]) == 0
    straight = _complete_image(tmp_path / "straight.png")

    checkpoint = tmp_path / "cut.checkpoint"
    # Killed between two checkpoints, then halfway through a checkpoint, then halfway through
    # the output: each time the files on disk are the last complete ones, and a resumed run
    # goes on from them.
    for point, nth, step_on_disk in [("step", 5, 4), ("checkpoint", 2, 6), ("output", 1, 12)]:
        resume = ["--resume", str(checkpoint)] if checkpoint.exists() else []
        result = subprocess.run(
            [
                sys.executable,
                str(HERE / "faults_script.py"),
                point,
                str(nth),
                "--",
                *common,
                "-o",
                "cut.png",
                *resume,
            ],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
        _, metadata = read_checkpoint(checkpoint)
        assert metadata["step"] == step_on_disk
        assert not (tmp_path / "cut.png").exists()  # never written half
    resumed = subprocess.run(
        [sys.executable, "-m", "keras_nst", *common, "-o", "cut.png", "--resume", str(checkpoint)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    np.testing.assert_array_equal(_complete_image(tmp_path / "cut.png"), straight)
    # The checkpoint half written by the second kill was cleared by the third run.
    assert sorted(os.listdir(checkpoint)) == ["checkpoint.npz"]


def test_two_runs_at_once_neither_mix_nor_corrupt(content_path, style_path, tmp_path, capsys):
    common = ["stylize", str(content_path), str(style_path), *TINY, "-o", "out.png"]
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "keras_nst",
            *common,
            "--steps",
            "100000",
            "--checkpoint-every",
            "5",
            "--seed",
            "7",
        ],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Announced once the checkpoint directory is held and painting began.
        assert first.stdout.readline().startswith("Painting steps 1 to 100000")
        os.chdir(tmp_path)
        # The same command again: its checkpoints would mix with the first run's.
        assert main([*common, "--steps", "3"]) == 2
        err = capsys.readouterr().err
        assert "`--checkpoint-dir` 'out.checkpoint' is in use by another run" in err
        # Its own checkpoints, the same output: both write out.png whole, one after the other.
        assert main([*common, "--steps", "3", "--checkpoint-dir", "second.checkpoint"]) == 0
        assert _complete_image(tmp_path / "out.png").shape == (24, 32, 3)
        first.send_signal(signal.SIGINT)
        _, stderr = first.communicate(timeout=300)
    finally:
        first.kill()
    assert first.returncode == 130, stderr[-2000:]
    assert _complete_image(tmp_path / "out.png").shape == (24, 32, 3)
    # The first run's own checkpoint (its seed), not the second's, however few steps it took.
    _, metadata = read_checkpoint(tmp_path / "out.checkpoint")
    assert metadata["model"]["task"]["settings"]["variants"][0]["seed"] == 7
    assert read_checkpoint(tmp_path / "second.checkpoint")[1]["step"] == 3
