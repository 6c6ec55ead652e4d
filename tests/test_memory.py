"""Peak memory: the estimate against a measured process, and a clear refusal."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keras_nst import StyleTask, StyleTransferModel
from keras_nst.cli import main
from keras_nst.memory import check_fits, estimate_peak_bytes, plan_tile

REPO = Path(__file__).resolve().parent.parent
PROBE = """
from keras_nst import StyleTask, StyleTransferModel
task = StyleTask({content!r}, {style!r}, size=192)
model = StyleTransferModel(task, weights=None, precision="float32")
model.compile()
model.fit(task, epochs=1, steps_per_epoch=2, verbose=0)
with open("/proc/self/status") as status:
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


@pytest.mark.slow
def test_estimate_is_close_to_a_measured_peak(content_path, style_path):
    code = PROBE.format(content=str(content_path), style=str(style_path))
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    measured = int(result.stdout.strip().splitlines()[-1]) * 1024
    task = StyleTask(content_path, style_path, size=192)
    estimate = estimate_peak_bytes(task, precision="float32")
    assert 0.7 * measured < estimate < 1.3 * measured


def test_estimate_grows_with_size_variants_and_precision(content_path, style_path):
    small = StyleTask(content_path, style_path, size=128)
    large = StyleTask(content_path, style_path, size=512)
    sweep = StyleTask(content_path, style_path, size=512, variants=[{}, {}])
    assert estimate_peak_bytes(small) < estimate_peak_bytes(large) < estimate_peak_bytes(sweep)
    assert estimate_peak_bytes(large, precision="mixed_bfloat16") < estimate_peak_bytes(large)


def test_too_large_is_refused_with_the_largest_size_that_fits(
    content_path, style_path, monkeypatch
):
    task = StyleTask(content_path, style_path, size=512)
    fits = StyleTask(content_path, style_path, size=256)
    available = estimate_peak_bytes(fits)
    with pytest.raises(
        ValueError, match=r"`size` is too large: .* the largest size that fits is about (\d+) px"
    ) as error:
        check_fits(task, available=available)
    largest = int(str(error.value).split("about ")[-1].split(" px")[0])
    assert 224 <= largest <= 256
    assert check_fits(fits, available=available) == available
    monkeypatch.setattr("keras_nst.memory.available_bytes", lambda: available)
    with pytest.raises(ValueError, match="`size` is too large"):
        StyleTransferModel(task, weights=None, precision="float32")


def test_cli_refuses_before_tensorflow_starts(
    content_path, style_path, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr("keras_nst.memory.available_bytes", lambda: 900 * 2**20)
    code = main(
        [
            "stylize",
            str(content_path),
            str(style_path),
            "-o",
            str(tmp_path / "o.png"),
            "--size",
            "4096",
            "--weights",
            "random",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "`--size` is too large" in err[0] and "--size" in err[0]
    assert not (tmp_path / "o.png").exists()


def test_an_optimizer_instance_is_estimated_as_its_kind(content_path, style_path):
    # L-BFGS keeps 20 more copies of the image than Adam: with room for Adam's copies and
    # not for L-BFGS', an L-BFGS instance must be tiled as the name "lbfgs" is.
    from keras_nst.optimizers import LBFGS
    from keras_nst.painting import painting_settings, stage_tiles

    task = StyleTask(content_path, style_path, size=512)
    cap = estimate_peak_bytes(task, optimizer="adam") + 2**20
    assert estimate_peak_bytes(task, optimizer="lbfgs") > cap

    def tiles(optimizer):
        return stage_tiles(
            task, painting_settings(dict(precision="float32", max_memory=cap, optimizer=optimizer))
        )

    assert tiles("adam") == [0]  # untiled
    by_name = tiles("lbfgs")
    assert by_name[0] > 0
    assert tiles(LBFGS(learning_rate=1.0)) == by_name


def test_each_stage_is_estimated_at_its_size_with_its_optimizer(content_path, style_path):
    # L-BFGS at a smaller scale costs less than Adam at the final one: nothing to tile. The
    # same L-BFGS at the final size is tiled there, and only there.
    from keras_nst.painting import build_model, painting_settings, stage_tiles
    from keras_nst.schedule import Schedule, Stage

    task = StyleTask(content_path, style_path, size=512)
    cap = estimate_peak_bytes(task, optimizer="adam") + 2**20
    assert estimate_peak_bytes(task.at_size(362), optimizer="lbfgs") < cap
    settings = dict(weights=None, precision="float32", max_memory=cap, optimizer="adam")
    values = painting_settings(settings)
    scales = Schedule([Stage(362, 2, "lbfgs"), Stage(512, 2)])
    assert stage_tiles(task, values, scales) == [0, 0]
    final = Schedule([Stage(362, 2), Stage(512, 2, "lbfgs")])
    tiles = stage_tiles(task, values, final)
    assert tiles[0] == 0 and tiles[1] == plan_tile(task, optimizer="lbfgs", available=cap) > 0
    # The model starts untiled; `follow` gives it tiles[1] at the last stage (test_tiles).
    model = build_model(task.at_size(362), schedule=final, **settings)
    assert model.tile is None and model.stage_tiles == tuple(tiles)


def test_a_scale_optimizer_that_cannot_fit_is_refused_by_its_own_name(
    content_path, style_path, tmp_path, capsys
):
    # L-BFGS' history at the scale below the final one (half the pixels, 22 copies of the
    # image) outgrows what Adam needs at the final size (2 copies): the painting is refused
    # for `scale_optimizer`, not for a `size` the user never gave, and fits without it.
    from keras_nst import painting
    from keras_nst.memory import estimate_tiled_bytes

    task = StyleTask(content_path, style_path, size=8192)
    below = task.at_size(round(8192 / 2**0.5))
    available = estimate_tiled_bytes(task, 64, optimizer="adam") + 2**20
    assert estimate_tiled_bytes(below, 64, optimizer="lbfgs") > available
    settings = dict(weights=None, precision="float32", max_memory=available)
    with pytest.raises(
        ValueError,
        match=r"^`scale_optimizer` does not fit: even tile by tile, painting the "
        r"smaller scale of \d+x\d+ with 'lbfgs' \(22 copies of the image\) needs about .* GiB "
        r".*scale_optimizer=None paints every scale with `optimizer`\. "
        r"Received: scale_optimizer='lbfgs'$",
    ):
        painting.check(task, **settings)
    assert painting.check(task, scale_optimizer=None, **settings)["scale_optimizer"] is None
    code = main(
        [
            "stylize",
            str(content_path),
            str(style_path),
            "-o",
            str(tmp_path / "o.png"),
            "--size",
            "8192",
            "--weights",
            "random",
            "--precision",
            "float32",
            "--max-memory",
            str(available),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "`--scale-optimizer` does not fit" in err[0]
    assert err[0].endswith("Received: --scale-optimizer='lbfgs'")
