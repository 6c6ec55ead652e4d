"""Checkpoints resume bit for bit; signals stop cleanly; NaN keeps the last good image."""

import os
import signal

import keras
import numpy as np
import pytest
from conftest import TINY_CONTENT_LAYERS, TINY_STYLE_LAYERS

from keras_nst import StyleTask, StyleTransferModel
from keras_nst.callbacks import StopOnNonFinite, StopOnSignal
from keras_nst.checkpoints import (
    CHECKPOINT_NAME,
    StyleCheckpoint,
    restore_checkpoint,
    save_checkpoint,
)


def _model(content_path, style_path, optimizer="adam", **kwargs):
    task = StyleTask(
        content_path,
        style_path,
        size=32,
        content_layers=TINY_CONTENT_LAYERS,
        style_layers=TINY_STYLE_LAYERS,
        init="content+noise",
        **kwargs,
    )
    model = StyleTransferModel(task, weights=None, precision="float32")
    model.compile(optimizer=optimizer)
    return task, model


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_resumed_run_ends_with_the_same_bytes(content_path, style_path, tmp_path, optimizer):
    task, straight = _model(content_path, style_path, optimizer)
    straight.fit(task, epochs=4, steps_per_epoch=3, verbose=0)

    task, first = _model(content_path, style_path, optimizer)
    checkpoint = StyleCheckpoint(tmp_path, every=None)
    first.fit(task, epochs=2, steps_per_epoch=3, verbose=0, callbacks=[checkpoint])
    # A fresh model, as a new process would build it.
    task, resumed = _model(content_path, style_path, optimizer)
    checkpoint = StyleCheckpoint(tmp_path, every=None)
    done = checkpoint.restore(resumed)
    assert (done["step"], done["epoch"]) == (6, 2)
    resumed.fit(
        task,
        epochs=4,
        steps_per_epoch=3,
        initial_epoch=done["epoch"],
        verbose=0,
        callbacks=[checkpoint],
    )
    np.testing.assert_array_equal(resumed.image.numpy(), straight.image.numpy())
    assert int(resumed.optimizer.iterations) == 12


def test_checkpoint_is_small_and_atomic(content_path, style_path, tmp_path, monkeypatch):
    task, model = _model(content_path, style_path)
    model.fit(task, epochs=1, steps_per_epoch=2, verbose=0)
    path = save_checkpoint(model, tmp_path)
    assert path.stat().st_size < 200_000  # image + Adam moments, no VGG-19 (52 MB)
    before = path.read_bytes()

    def failing_savez(handle, **arrays):
        handle.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(model, tmp_path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == [CHECKPOINT_NAME]


def test_restore_refuses_another_task_or_optimizer(content_path, style_path, tmp_path):
    task, model = _model(content_path, style_path)
    save_checkpoint(model, tmp_path)
    _, other = _model(content_path, style_path, style_weight=5.0)
    # It says what differs, with both values.
    with pytest.raises(
        ValueError, match=r"written for another painting: style_weight was 10.0, now 5.0\."
    ):
        restore_checkpoint(other, tmp_path)
    _, lbfgs = _model(content_path, style_path, "lbfgs")
    with pytest.raises(
        ValueError, match=r"state of a Adam optimizer; the model is compiled with LBFGS"
    ):
        restore_checkpoint(lbfgs, tmp_path)
    with pytest.raises(ValueError, match=r"holds no checkpoint.npz"):
        restore_checkpoint(model, tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / CHECKPOINT_NAME).write_bytes(b"junk")
    with pytest.raises(ValueError, match=r"checkpoint could not be read"):
        restore_checkpoint(model, tmp_path / "bad")


class _RaiseSignal(keras.callbacks.Callback):
    def __init__(self, at_step, number):
        super().__init__()
        self.at_step, self.number = at_step, number

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.at_step:
            signal.raise_signal(self.number)


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_stops_after_the_step(content_path, style_path, number):
    task, model = _model(content_path, style_path)
    stop = StopOnSignal()
    previous = signal.getsignal(number)
    model.fit(
        task, epochs=1, steps_per_epoch=20, verbose=0, callbacks=[_RaiseSignal(3, number), stop]
    )
    assert stop.signal_received == number
    assert int(model.optimizer.iterations) == 3
    assert signal.getsignal(number) == previous


def test_second_signal_aborts_at_once(content_path, style_path):
    task, model = _model(content_path, style_path)

    class Twice(_RaiseSignal):
        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 == self.at_step:
                signal.raise_signal(self.number)
                signal.raise_signal(self.number)

    with pytest.raises(KeyboardInterrupt):
        model.fit(
            task,
            epochs=1,
            steps_per_epoch=20,
            verbose=0,
            callbacks=[StopOnSignal(), Twice(2, signal.SIGINT)],
        )


def test_nan_stops_and_keeps_the_last_good_image(content_path, style_path):
    task, model = _model(content_path, style_path)
    guard = StopOnNonFinite()
    good = {}

    class Poison(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:  # the image after step 3 goes bad; step 4 logs NaN for it
                good["image"] = model.image.numpy().copy()
                poisoned = model.image.numpy()
                poisoned[0, 0, 0, 0] = np.nan
                model.image.assign(poisoned)

    model.fit(task, epochs=1, steps_per_epoch=10, verbose=0, callbacks=[Poison(), guard])
    assert guard.bad_step == 4 and "loss" in guard.bad_losses
    image = model.image.numpy()
    assert np.isfinite(image).all()
    # The last image whose losses were finite: the one step 3 started from.
    assert not np.array_equal(image, good["image"])


def test_a_signal_stops_fit_after_the_step_and_the_checkpoint_saves(
    content_path, style_path, tmp_path
):
    task, model = _model(content_path, style_path)
    checkpoint = StyleCheckpoint(tmp_path, every=None)
    model.fit(
        task,
        epochs=1,
        steps_per_epoch=20,
        verbose=0,
        callbacks=[StopOnSignal(), _RaiseSignal(2, signal.SIGINT), checkpoint],
    )
    assert int(model.optimizer.iterations) == 2
    assert checkpoint.last_saved_step == 2 and (tmp_path / CHECKPOINT_NAME).exists()


def test_checkpoints_know_a_task_by_its_pixels_not_its_paths(
    content_path, style_path, tmp_path, monkeypatch
):
    import shutil

    from PIL import Image

    monkeypatch.chdir(tmp_path)
    shutil.copy(content_path, "x.jpg")
    _, model = _model("x.jpg", style_path)
    model.fit(epochs=1, steps_per_epoch=2, verbose=0)
    save_checkpoint(model, "c")
    # The same file spelt another way is the same task.
    _, same = _model("./x.jpg", style_path)
    assert restore_checkpoint(same, "c")["step"] == 2
    np.testing.assert_array_equal(same.image.numpy(), model.image.numpy())
    # Another picture under the same name is another task.
    Image.open("x.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save("x.jpg")
    _, other = _model("x.jpg", style_path)
    with pytest.raises(
        ValueError, match=r"written for another painting: the content image differs\."
    ):
        restore_checkpoint(other, "c")
