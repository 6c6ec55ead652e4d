"""The painting use case: stylize, schedules of stages, the canvas, resume and serialization.

Model-level behaviour is checked with a 1x1-convolution stand-in for VGG-19 (conftest), so
these tests are about the mechanics, in milliseconds per step.
"""

import json
import shutil
import signal

import keras
import numpy as np
import pytest
from conftest import (
    TINY_CONTENT_LAYERS,
    TINY_STYLE_LAYERS,
    read_events,
    record_optimizers,
    stand_in_extractor,
    tensor_value,
)
from PIL import Image

from keras_nst import StyleTask, StyleTransferModel, settings, stylize
from keras_nst.canvas import resize
from keras_nst.checkpoints import read_checkpoint
from keras_nst.painting import build_model
from keras_nst.schedule import Schedule, Stage

LAYERS = ["block1_conv1", "block2_conv1", "block2_conv2"]
SCHEDULE = Schedule([Stage(24, 3), Stage(32, 4)])
FAST = dict(weights=None, precision="float32", verbose=0)


def _task(content, style, **kwargs):
    kwargs.setdefault("calibration", "gatys2015")  # the arithmetic the references compute
    return StyleTask(
        content,
        style,
        size=32,
        content_layers=TINY_CONTENT_LAYERS,
        style_layers=TINY_STYLE_LAYERS,
        init="content+noise",
        **kwargs,
    )


@pytest.fixture(scope="module")
def extractor():
    return stand_in_extractor(LAYERS)


class RaiseSignal(keras.callbacks.Callback):
    def __init__(self, at_step):
        super().__init__()
        self.at_step = at_step

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.optimizer.iterations) == self.at_step:
            signal.raise_signal(signal.SIGINT)


def test_stylize_paints_saves_and_checkpoints(content_path, style_path, tmp_path, extractor):
    task = _task(content_path, style_path)
    result = stylize(
        task,
        output=tmp_path / "out.png",
        checkpoint_dir=tmp_path / "run.checkpoint",
        steps=4,
        extractor=extractor,
        **FAST,
    )
    assert result.steps == 4 and result.stopped_by is None
    assert result.images.shape == (1, 24, 32, 3)
    np.testing.assert_array_equal(np.asarray(Image.open(result.output)), result.images[0])
    _, metadata = read_checkpoint(tmp_path / "run.checkpoint")
    assert metadata["step"] == 4
    assert set(result.history.history) >= {"loss", "content_loss", "style_loss"}


def test_a_schedule_is_one_run_for_callbacks_and_tensorboard(
    content_path, style_path, tmp_path, extractor
):
    task = _task(content_path, style_path)
    result = stylize(
        task,
        schedule=SCHEDULE,
        log_dir=tmp_path / "run",
        image_every=2,
        extractor=extractor,
        **FAST,
    )
    assert result.steps == 7 and result.images.shape == (1, 24, 32, 3)
    events = read_events(tmp_path / "run")
    assert [e.step for e in events.Tensors("loss")] == [1, 2, 3, 4, 5, 6, 7]
    assert [float(tensor_value(e)) for e in events.Tensors("size")] == [24.0] * 3 + [32.0] * 4
    shapes = {e.step: tuple(int(v) for v in tensor_value(e)[:2]) for e in events.Tensors("image")}
    assert shapes == {2: (24, 18), 4: (32, 24), 6: (32, 24), 7: (32, 24)}  # (width, height)


def test_a_larger_canvas_keeps_floats_and_the_optimizer_state(content_path, style_path, extractor):
    task = _task(content_path, style_path)
    model = build_model(
        task.at_size(24), extractor=extractor, weights=None, precision="float32", average=0.0
    )  # the next stage starts from the image itself
    model.fit(epochs=1, steps_per_epoch=3, verbose=0)
    before = model.image.numpy()
    momentum, velocity = (v for v in model.optimizer.variables if len(v.shape) == 4)
    momentum.assign(np.full(momentum.shape, 0.25, "float32"))
    velocity.assign(np.full(velocity.shape, 4.0, "float32"))
    model.set_task(task)
    after = model.image.numpy()
    assert after.shape == (1, 24, 32, 3)
    np.testing.assert_array_equal(after, resize(before, (24, 32)).numpy())
    assert not np.array_equal(after, np.round(after))  # float all the way: no 8-bit round trip
    assert int(model.optimizer.iterations) == 3
    new_momentum, new_velocity = (v for v in model.optimizer.variables if len(v.shape) == 4)
    # Resized, not reset: a constant field stays that constant at the new size.
    np.testing.assert_allclose(new_momentum.numpy(), 0.25, rtol=1e-5)
    np.testing.assert_allclose(new_velocity.numpy(), 4.0, rtol=1e-5)
    model.fit(epochs=1, steps_per_epoch=1, verbose=0)
    assert int(model.optimizer.iterations) == 4


def test_lbfgs_history_starts_afresh_on_a_new_canvas(content_path, style_path, extractor):
    task = _task(content_path, style_path)
    model = build_model(
        task.at_size(24), extractor=extractor, optimizer="lbfgs", weights=None, precision="float32"
    )
    model.fit(epochs=1, steps_per_epoch=3, verbose=0)
    model.set_task(task)
    count = [v for v in model.optimizer.variables if "count" in v.path][0]
    assert int(count.numpy()) == 0 and int(model.optimizer.iterations) == 3


def _cut_and_resumed(task, schedule, cut_at, directory, extractor):
    """A painting straight through, and the same one stopped after `cut_at` steps and resumed."""
    straight = stylize(task, schedule=schedule, extractor=extractor, **FAST)
    cut = stylize(
        task,
        schedule=schedule,
        checkpoint_dir=directory,
        extractor=extractor,
        callbacks=[RaiseSignal(cut_at)],
        **FAST,
    )
    assert cut.stopped_by == "SIGINT" and cut.steps == cut_at
    resumed = stylize(task, schedule=schedule, resume=directory, extractor=extractor, **FAST)
    assert resumed.steps == schedule.total_steps
    np.testing.assert_array_equal(resumed.model.image.numpy(), straight.model.image.numpy())
    return resumed


@pytest.mark.parametrize("cut_at", [3, 5])  # at the stage boundary, and inside the second stage
def test_resume_mid_schedule_gives_the_same_bytes(
    content_path, style_path, tmp_path, extractor, cut_at
):
    _cut_and_resumed(_task(content_path, style_path), SCHEDULE, cut_at, tmp_path / "c", extractor)


SWITCHING = Schedule([Stage(24, 3, "lbfgs"), Stage(32, 4)])


@pytest.mark.slow  # one of the slowest: make test runs it, make test-fast not
def test_a_stage_of_its_own_optimizer_hands_over_at_its_end(content_path, style_path, extractor):
    task = _task(content_path, style_path)
    record = record_optimizers()
    result = stylize(
        task, schedule=SWITCHING, learning_rate=4.0, callbacks=[record], extractor=extractor, **FAST
    )
    # L-BFGS paints the first stage; Adam, its bias correction counted from the handover,
    # the second; the step counter goes on.
    assert record.seen == [("LBFGS", 0)] * 3 + [("RestartedAdam", 3)] * 4
    adam = result.model.optimizer
    assert int(adam.iterations) == 7 and float(adam.learning_rate) == 4.0
    # The same through the settings, by default: L-BFGS paints the scales below the final one
    # (`scale_optimizer`), and Adam takes over at its takeover learning rate, 3, not 10.
    record = record_optimizers()
    result = stylize(
        task, steps=2, scale_steps=2, min_size=20, callbacks=[record], extractor=extractor, **FAST
    )
    assert record.seen == [("LBFGS", 0)] * 2 + [("RestartedAdam", 2)] * 2
    assert (
        float(result.model.optimizer.learning_rate)
        == settings.TAKEOVER_LEARNING_RATES["adam"]
        == 3.0
    )
    # A learning rate given is the learning rate.
    result = stylize(
        task, steps=2, scale_steps=2, min_size=20, learning_rate=4.0, extractor=extractor, **FAST
    )
    assert float(result.model.optimizer.learning_rate) == 4.0
    # Naming the painting's own optimizer, or none, is one optimizer throughout, at its own rate.
    for scale_optimizer in ("adam", None):
        record = record_optimizers()
        result = stylize(
            task,
            steps=2,
            scale_steps=2,
            min_size=20,
            scale_optimizer=scale_optimizer,
            callbacks=[record],
            extractor=extractor,
            **FAST,
        )
        assert [name for name, _ in record.seen] == ["Adam"] * 4
        assert (
            float(result.model.optimizer.learning_rate) == settings.DEFAULT_LEARNING_RATES["adam"]
        )


@pytest.mark.parametrize("cut_at", [2, 3, 5])  # in L-BFGS' stage, at the handover, in Adam's
def test_resume_on_either_side_of_a_handover_gives_the_same_bytes(
    content_path, style_path, tmp_path, extractor, cut_at
):
    task = _task(content_path, style_path)
    resumed = _cut_and_resumed(task, SWITCHING, cut_at, tmp_path / "c", extractor)
    assert type(resumed.model.optimizer).__name__ == "RestartedAdam"
    # Another optimizer for the first stage is another painting.
    other = Schedule([Stage(24, 3, "sgd"), Stage(32, 4)])
    with pytest.raises(ValueError, match=r"another painting: optimizers was 'lbfgs', now 'sgd'\."):
        stylize(task, schedule=other, resume=tmp_path / "c", extractor=extractor, **FAST)


def test_a_checkpoint_is_known_by_its_pixels_not_its_paths(
    content_path, style_path, tmp_path, monkeypatch, extractor
):
    monkeypatch.chdir(tmp_path)
    shutil.copy(content_path, "x.jpg")
    stylize(_task("x.jpg", style_path), steps=2, checkpoint_dir="c", extractor=extractor, **FAST)
    # The same file spelt another way: the same painting.
    resumed = stylize(
        _task("./x.jpg", style_path), steps=4, resume="c", extractor=extractor, **FAST
    )
    assert resumed.steps == 4
    # Another picture under the same name: another painting.
    Image.open("x.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save("x.jpg")
    with pytest.raises(
        ValueError,
        match=r"`resume` checkpoint was written for another painting: the content image differs",
    ):
        stylize(_task("x.jpg", style_path), steps=6, resume="c", extractor=extractor, **FAST)


def test_task_config_round_trips(content_path, style_path, second_style_path):
    task = StyleTask(
        str(content_path),
        [str(style_path), str(second_style_path)],
        size=32,
        style_blend=[3, 1],
        init=str(style_path),
        variants=[{"style_weight": 5.0, "style_layers": ["block1_conv1"]}],
    )
    config = task.get_config()
    rebuilt = StyleTask.from_config(json.loads(json.dumps(config)))
    assert rebuilt.fingerprint() == task.fingerprint()
    assert StyleTask(**config).get_config() == config
    np.testing.assert_array_equal(rebuilt.initial_images(), task.initial_images())


def test_model_config_and_keras_save_round_trip(content_path, style_path, tmp_path):
    task = _task(str(content_path), str(style_path))
    model = StyleTransferModel(task, weights=None, precision="float32")
    model.compile()
    model.fit(epochs=1, steps_per_epoch=2, verbose=0)
    clone = StyleTransferModel.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    np.testing.assert_array_equal(clone.image.numpy(), task.initial_images())
    model.save(tmp_path / "painting.keras")
    loaded = keras.models.load_model(tmp_path / "painting.keras")
    np.testing.assert_array_equal(loaded.image.numpy(), model.image.numpy())
    assert int(loaded.optimizer.iterations) == 2
    for saved, restored in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(saved.numpy(), restored.numpy())
    np.testing.assert_allclose(
        loaded.variant_losses()["loss"], model.variant_losses()["loss"], rtol=1e-6
    )


def test_a_model_with_its_own_extractor_says_it_has_no_config(content_path, style_path, extractor):
    model = StyleTransferModel(
        _task(content_path, style_path), extractor=extractor, precision="float32"
    )
    with pytest.raises(ValueError, match=r"built with its own `extractor` has no config"):
        model.get_config()


def test_stand_in_losses_match_a_numpy_reference(content_path, style_path, extractor):
    """The terms' arithmetic is the paper's for any extractor."""
    task = _task(content_path, style_path, variants=[{"style_weight": 7.0}])
    model = StyleTransferModel(task, extractor=extractor, precision="float32")
    losses = model.variant_losses()
    features = {k: np.asarray(v, np.float64) for k, v in extractor(model.image).items()}
    content = {
        k: np.asarray(v, np.float64)
        for k, v in extractor(task.content_image[None].astype("float32")).items()
    }
    style = {
        k: np.asarray(v, np.float64)
        for k, v in extractor(task.style_images[0][None].astype("float32")).items()
    }
    for row, variant in enumerate(task.variants):
        expected_content = sum(
            variant.content_weight * w * 0.5 * ((features[n][row] - content[n][0]) ** 2).sum()
            for n, w in variant.content_layers.items()
        )
        expected_style = 0.0
        for name, w in variant.style_layers.items():
            f = features[name][row].reshape(-1, features[name].shape[-1])
            s = style[name][0].reshape(-1, f.shape[1])
            gram, target = f.T @ f / len(f), s.T @ s / len(s)
            expected_style += (
                variant.style_weight * w * ((gram - target) ** 2).sum() / (4 * f.shape[1] ** 2)
            )
        assert losses["content_loss"][row] == pytest.approx(expected_content, rel=1e-4)
        assert losses["style_loss"][row] == pytest.approx(expected_style, rel=1e-4)


def test_output_names_one_image(content_path, style_path, tmp_path):
    task = _task(content_path, style_path, variants=[{"seed": 1}])
    with pytest.raises(ValueError, match=r"`output` names one image, and this task paints 2"):
        stylize(task, output=tmp_path / "o.png", steps=1, **FAST)
