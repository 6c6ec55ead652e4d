"""StyleTensorBoard: event files read back and checked against History and the images."""

import io

import keras
import numpy as np
import pytest
from conftest import (
    TINY_CONTENT_LAYERS,
    TINY_STYLE_LAYERS,
    hparams_dashboard,
    read_events,
    tensor_value,
)
from PIL import Image
from tensorboard.plugins.hparams import metadata as hparams_metadata

from keras_nst import StyleTask, StyleTransferModel
from keras_nst.callbacks import StyleTensorBoard


def _scalars(accumulator, tag):
    events = accumulator.Tensors(tag)
    return [e.step for e in events], [float(tensor_value(e)) for e in events]


@pytest.fixture
def painted(content_path, style_path, tmp_path):
    task = StyleTask(
        content_path,
        style_path,
        size=32,
        content_layers=TINY_CONTENT_LAYERS,
        style_layers=TINY_STYLE_LAYERS,
        total_variation_weight=1e-3,
        variants=[{"style_weight": 1e3, "init": "noise"}],
    )
    model = StyleTransferModel(task, weights=None)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=2.0))
    run = tmp_path / "logs" / "run1"
    history = model.fit(
        task,
        epochs=2,
        steps_per_epoch=3,
        verbose=0,
        callbacks=[
            StyleTensorBoard(run, image_every=2),
            keras.callbacks.TensorBoard(log_dir=str(run), update_freq=1),
        ],
    )
    return model, history, run


def test_scalars_every_step_match_history(painted):
    model, history, run = painted
    events = read_events(run)
    tags = set(events.Tags()["tensors"])
    layer_tags = {f"style_loss/{name}" for name in TINY_STYLE_LAYERS}
    expected = {"loss", "content_loss", "style_loss", "total_variation_loss", "learning_rate"}
    assert expected | layer_tags | {"image"} <= tags
    for key in ["loss", "content_loss", "style_loss", "total_variation_loss", *layer_tags]:
        steps, values = _scalars(events, key)
        assert steps == [1, 2, 3, 4, 5, 6]
        # History keeps each epoch's last step: steps 3 and 6.
        np.testing.assert_allclose([values[2], values[5]], history.history[key], rtol=1e-6)
    steps, rates = _scalars(events, "learning_rate")
    np.testing.assert_allclose(rates, [2.0] * 6)
    # Keras' own callback wrote beside it.
    assert list((run / "train").glob("events.out.tfevents.*"))


def test_images_every_n_steps_and_at_the_end(painted):
    model, _, run = painted
    events = read_events(run).Tensors("image")
    assert [e.step for e in events] == [2, 4, 6]
    width, height, *pngs = tensor_value(events[-1])
    assert (int(width), int(height)) == (32, 24) and len(pngs) == 2
    for png, expected in zip(pngs, model.images()):
        decoded = np.asarray(Image.open(io.BytesIO(png)))
        np.testing.assert_array_equal(decoded, expected)


def test_hparams_describe_the_run(painted):
    _, _, run = painted
    content = read_events(run).PluginTagToContent("hparams")
    info = hparams_metadata.parse_session_start_info_plugin_data(
        content[hparams_metadata.SESSION_START_INFO_TAG]
    )
    values = {key: value for key, value in info.hparams.items()}
    assert values["optimizer"].string_value == "RMSprop"
    assert values["learning_rate"].number_value == pytest.approx(2.0)
    assert values["pooling"].string_value == "avg"
    assert values["weights"].string_value == "random"
    assert values["style_layers"].string_value == "block1_conv1=0.5,block2_conv1=0.5"
    assert values["size"].number_value == 32 and values["num_variants"].number_value == 2
    assert info.group_name or info.hparams


def test_image_every_is_checked():
    with pytest.raises(ValueError, match=r"`image_every` must be a positive integer or None"):
        StyleTensorBoard("logs/x", image_every=0)


@pytest.mark.parametrize("root", ["parent", "run"])
def test_hparams_dashboard_shows_metric_values_at_either_root(painted, root):
    model, history, run = painted
    groups = hparams_dashboard(run.parent if root == "parent" else run)
    assert len(groups) == 1
    [metrics] = groups.values()
    assert set(metrics) >= {"loss", "content_loss", "style_loss", "total_variation_loss"}
    for key in ("loss", "content_loss", "style_loss"):
        assert metrics[key] == pytest.approx(history.history[key][-1], rel=1e-6)


def test_progress_bar_shows_the_main_losses_only(content_path, style_path, capsys):
    import re

    from keras_nst.callbacks import StyleProgbarLogger

    task, model = _bar_model(content_path, style_path)

    history = model.fit(
        task, epochs=1, steps_per_epoch=3, verbose=1, callbacks=[StyleProgbarLogger()]
    )
    out = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().out)
    last = [line for line in re.split(r"[\r\n]", out) if "3/3" in line][-1]
    shown = dict(re.findall(r"- (\w+): (\S+)", last))
    assert set(shown) == {"loss", "content_loss", "style_loss"}
    for key, text in shown.items():
        assert float(text) == pytest.approx(history.history[key][-1], rel=1e-3)
        assert len(text.replace("e+", "").replace(".", "")) <= 6  # 4 significant digits
    assert "style_loss/" not in out
    # Per-layer losses are still in History (and TensorBoard).
    assert {f"style_loss/{name}" for name in TINY_STYLE_LAYERS} <= set(history.history)


def _bar_model(content_path, style_path):
    task = StyleTask(
        content_path,
        style_path,
        size=32,
        content_layers=TINY_CONTENT_LAYERS,
        style_layers=TINY_STYLE_LAYERS,
    )
    model = StyleTransferModel(task, weights=None)
    model.compile()
    return task, model


def test_piped_progress_is_plain_lines_counting_the_whole_painting(
    content_path, style_path, capsys
):
    from keras_nst.callbacks import StyleProgbarLogger

    task, model = _bar_model(content_path, style_path)
    # A resumed painting: 40 steps were painted before, 40 of 100 in this fit.
    bar = StyleProgbarLogger(start=40, total=100)
    model.fit(task, epochs=1, steps_per_epoch=40, verbose=1, callbacks=[bar])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out  # no control codes where nothing is a terminal
    lines = out.strip().splitlines()
    steps = [int(line.split()[1].split("/")[0]) for line in lines]
    assert all(line.split()[1].endswith("/100") for line in lines)
    assert steps[0] > 40 and steps[-1] == 80  # counts on from 41, not from 1
    # Every twentieth of the painting (5 steps), the first and the last: not one a step.
    assert len(lines) <= 40 // 5 + 2
    assert "left" in lines[-2] and lines[-1].split(" - ")[1].endswith("in all")


def test_a_stopped_painting_ends_its_bar_where_it_stopped(content_path, style_path, capsys):
    from keras_nst.callbacks import StyleProgbarLogger

    task, model = _bar_model(content_path, style_path)

    class StopAtThree(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 == 3:
                self.model.stop_training = True

    bar = StyleProgbarLogger(total=50)
    model.fit(task, epochs=1, steps_per_epoch=50, verbose=1, callbacks=[StopAtThree(), bar])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("step 3/50 - ") and "in all" in last


def test_the_time_left_weighs_each_step_by_its_cost():
    from keras_nst.callbacks import _Progbar

    # Two stages of 10 steps, the second's steps 4 times the cost (twice the side).
    costs = np.cumsum([0.0] + [1.0] * 10 + [4.0] * 10)
    bar = _Progbar(target=20, verbose=0, costs=costs)
    bar._first = (2, 100.0)  # after the first (tracing) step
    # 5 cost units in 10 s since then: 2 s a unit; 3 + 40 units left.
    assert bar._left(7, 110.0) == pytest.approx(2.0 * 43)
