"""The report's experiments: which runs share a fit, what gets written, the sweep command."""

import re

import numpy as np
import pytest
from conftest import read_events
from PIL import Image
from tensorboard.plugins.hparams import metadata as hparams_metadata

from keras_nst.cli import main
from keras_nst.experiments import EXPERIMENTS, experiment, plan_experiment, run_experiment
from keras_nst.sheets import contact_sheet

TINY = dict(
    size=32,
    content_layers={"block2_conv2": 1.0},
    style_layers={"block1_conv1": 0.5, "block2_conv1": 0.5},
)


@pytest.mark.parametrize(
    "name, fits, images",
    [
        ("ratio", 1, 7),
        ("content_layer", 1, 5),
        ("style_layer", 1, 5),
        ("layer_weights", 1, 4),
        ("pooling", 2, 2),
        ("optimizer", 3, 3),
        ("content", 2, 2),
        ("style", 3, 3),
        ("init", 1, 3),
    ],
)
def test_weight_layer_and_init_sweeps_share_one_fit(
    name, fits, images, content_path, style_path, second_style_path
):
    exp, planned = plan_experiment(
        name,
        content_path,
        style_path,
        contents=[content_path],
        styles=[second_style_path, style_path],
        size=32,
    )
    assert len(planned) == fits
    assert sum(task.num_variants for _, task in planned) == len(exp.runs) == images


def test_experiment_settings_follow_the_report(content_path, style_path):
    ratio = experiment("ratio")
    assert [run.task["style_weight"] for run in ratio.runs] == [10.0**e for e in range(1, 8)]
    one_hot = experiment("style_layer").runs[2].task["style_layers"]
    assert one_hot == {"block3_conv1": 1.0}
    _, [(_, task)] = plan_experiment("layer_weights", content_path, style_path, size=32)
    assert task.variants[1].style_layers == {
        "block1_conv1": 0.3,
        "block2_conv1": 0.1,
        "block3_conv1": 0.2,
        "block4_conv1": 0.3,
        "block5_conv1": 0.1,
    }
    with pytest.raises(ValueError, match=r"`experiment` must be one of \('ratio'"):
        experiment("colour")


def test_run_experiment_writes_images_sheet_and_hparams_runs(content_path, style_path, tmp_path):
    result = run_experiment(
        "init",
        content_path,
        style_path,
        output_dir=tmp_path / "out",
        steps=2,
        weights=None,
        log_dir=tmp_path / "logs",
        **TINY,
    )
    assert result.labels == ["noise", "content+noise", "content"]
    for path, image in zip(result.image_paths, result.images):
        np.testing.assert_array_equal(np.asarray(Image.open(path)), image)
    # One fit painted all three: one shared time; noise starts (and stays) far from the photo.
    assert len(set(result.seconds)) == 1
    assert result.losses[0] > result.losses[2]
    with Image.open(result.sheet) as sheet:
        assert sheet.width > 3 * 32 and sheet.height > 24
    for label in ("noise", "content+noise", "content"):
        events = read_events(tmp_path / "logs" / "init" / label)
        info = hparams_metadata.parse_session_start_info_plugin_data(
            events.PluginTagToContent("hparams")[hparams_metadata.SESSION_START_INFO_TAG]
        )
        assert info.hparams["init"].string_value == label
        assert {"loss", "content_loss", "style_loss", "image"} <= set(events.Tags()["tensors"])


def test_contact_sheet_checks_its_grid():
    image = np.zeros((4, 6, 3), np.uint8)
    sheet = contact_sheet(
        [[image, None]],
        row_labels=["row"],
        column_labels=["a", "b"],
        captions=[["1 s", ""]],
        title="t",
    )
    assert sheet.mode == "RGB"
    with pytest.raises(ValueError, match="must be a grid"):
        contact_sheet([[image]], row_labels=["row"], column_labels=["a", "b"])


def test_sweep_command_runs_separate_fits(content_path, style_path, tmp_path, capsys):
    code = main(
        [
            "sweep",
            "pooling",
            str(content_path),
            "--style",
            str(style_path),
            "-o",
            str(tmp_path / "s"),
            "--size",
            "32",
            "--steps",
            "2",
            "--weights",
            "random",
            "--quiet",
            "--style-weight",
            "1e5",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "avg_pooling.png",
        "contact_sheet.png",
        "max_pooling.png",
    ]
    out = capsys.readouterr().out
    assert "avg pooling: loss" in out and "contact_sheet.png" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["sweep", "colour", "c.jpg", "--style", "s.jpg", "-o", "out"],
            r"`experiment` must be one of",
        ),
        (
            ["sweep", "ratio", "missing.jpg", "--style", "STYLE", "-o", "out"],
            r"`CONTENT` image file does not exist",
        ),
        (
            ["sweep", "ratio", "CONTENT", "--style", "STYLE", "-o", "no/such/dir"],
            r"`--output-dir` must be a writable",
        ),
        (
            ["sweep", "ratio", "CONTENT", "--style", "STYLE", "-o", "out", "--size", "8"],
            r"needs at least 16 pixels",
        ),
    ],
)
def test_sweep_errors_are_one_line(
    argv, message, content_path, style_path, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    argv = [
        str(content_path) if a == "CONTENT" else str(style_path) if a == "STYLE" else a
        for a in argv
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.search(message, err[0])
    assert list(tmp_path.iterdir()) == []


def test_every_experiment_is_listed():
    assert len(EXPERIMENTS) == 9


@pytest.mark.slow
def test_example_scripts_run(tmp_path):
    """Every script in examples/, tiny, in one Python process (one TensorFlow start-up)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parent.parent
    tiny = ["--size", "32", "--steps", "2"]
    logs = ["--logdir", str(tmp_path / "logs")]
    runs = {
        "quickstart.py": [*tiny, "--output", str(tmp_path / "quickstart.png")],
        "experiment_ratio.py": [*tiny, *logs, "--output-dir", str(tmp_path / "ratio")],
        "experiment_style_layer.py": [*tiny, *logs, "--output-dir", str(tmp_path / "style_layer")],
        "experiment_pooling.py": [*tiny, *logs, "--output-dir", str(tmp_path / "pooling")],
        "make_clip.py": [str(tmp_path / "clip.gif")],
    }
    driver = "import runpy, sys\n" + "".join(
        f"sys.argv = {[script, *args]!r}\n"
        f"runpy.run_path({str(repo / 'examples' / script)!r}, run_name='__main__')\n"
        for script, args in runs.items()
    )
    result = subprocess.run(
        [sys.executable, "-c", driver],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    from PIL import Image

    with Image.open(tmp_path / "clip.gif") as clip:
        assert clip.n_frames == 16 and clip.size == (160, 106)
    with Image.open(tmp_path / "quickstart.png") as image:
        assert image.size == (32, 24)
    for name in ("ratio", "style_layer", "pooling"):
        assert (tmp_path / name / "contact_sheet.png").exists()
