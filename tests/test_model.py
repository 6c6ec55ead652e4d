"""StyleTransferModel: the image is the only variable, losses match a numpy reference, fit paints."""

import keras
import numpy as np
import pytest
from conftest import TINY_CONTENT_LAYERS, TINY_STYLE_LAYERS

from keras_nst import StyleTask, StyleTransferModel
from keras_nst.model import DEFAULT_STEPS_PER_EPOCH


def _task(content_path, style_path, **kwargs):
    settings = dict(size=32, content_layers=TINY_CONTENT_LAYERS, style_layers=TINY_STYLE_LAYERS)
    settings.update(kwargs)
    # The paper's arithmetic, which the numpy references below compute.
    settings.setdefault("calibration", "gatys2015")
    return StyleTask(content_path, style_path, **settings)


def _model(task, **kwargs):
    model = StyleTransferModel(task, weights=None, **kwargs)
    model.compile()
    return model


def _reference_losses(model, task):
    """Gatys et al.'s losses in numpy (float64) from the extractor's features."""
    features = {k: np.asarray(v, np.float64) for k, v in model.extractor(model.image).items()}
    content = {
        k: np.asarray(v, np.float64)
        for k, v in model.extractor(task.content_image[None].astype("float32")).items()
    }
    style_grams = []
    for image in task.style_images:
        f = {
            k: np.asarray(v, np.float64)
            for k, v in model.extractor(image[None].astype("float32")).items()
        }
        style_grams.append(f)
    totals = []
    for row, variant in enumerate(task.variants):
        content_loss = sum(
            variant.content_weight * w * 0.5 * ((features[name][row] - content[name][0]) ** 2).sum()
            for name, w in variant.content_layers.items()
        )
        style_loss = 0.0
        for name, w in variant.style_layers.items():
            f = features[name][row].reshape(-1, features[name].shape[-1])
            n, m = f.shape[1], f.shape[0]
            target = 0.0
            for blend, grams in zip(variant.style_blend, style_grams):
                s = grams[name][0].reshape(-1, n)
                # Gatys' A for a style map of another size, rescaled to this image's M.
                target = target + blend * (s.T @ s) * m / s.shape[0]
            style_loss += (
                variant.style_weight * w * ((f.T @ f - target) ** 2).sum() / (4 * n**2 * m**2)
            )
        totals.append((content_loss, style_loss))
    return np.array(totals)


def test_image_is_the_only_trainable_variable(content_path, style_path):
    task = _task(content_path, style_path, variants=[{"seed": 1}])
    model = _model(task)
    assert [v.name for v in model.trainable_variables] == ["image"]
    assert tuple(model.image.shape) == (2, 24, 32, 3)
    np.testing.assert_array_equal(model.image.numpy(), task.initial_images())
    assert all(not layer.trainable for layer in model.extractor.layers)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_losses_match_numpy_reference(content_path, style_path, second_style_path, precision):
    task = _task(
        content_path,
        [style_path, second_style_path],
        style_size=40,
        style_blend=[0.75, 0.25],
        init="content+noise",
        variants=[{"style_weight": 50.0, "content_layers": {"block1_conv2": 2.0}}],
    )
    model = _model(task, precision=precision)
    losses = model.variant_losses()
    reference = _reference_losses(model, task)
    np.testing.assert_allclose(losses["content_loss"], reference[:, 0], rtol=2e-4)
    np.testing.assert_allclose(losses["style_loss"], reference[:, 1], rtol=2e-4)
    np.testing.assert_allclose(losses["loss"], reference.sum(axis=1), rtol=2e-4)
    layer_sum = sum(v for k, v in losses.items() if k.startswith("style_loss/"))
    np.testing.assert_allclose(layer_sum, losses["style_loss"], rtol=1e-5)


def test_fit_lowers_the_loss_and_keeps_vgg_frozen(content_path, style_path):
    task = _task(content_path, style_path, init="noise", style_weight=1e3)
    model = _model(task)
    frozen = [w.copy() for w in model.extractor.get_weights()]
    history = model.fit(task, epochs=3, steps_per_epoch=5, verbose=0)
    layers = [f"style_loss/{name}" for name in TINY_STYLE_LAYERS]
    assert set(history.history) == {"loss", "content_loss", "style_loss", *layers}
    np.testing.assert_allclose(
        np.sum([history.history[key] for key in layers], axis=0),
        history.history["style_loss"],
        rtol=1e-5,
    )
    assert len(history.history["loss"]) == 3
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    for before, after in zip(frozen, model.extractor.get_weights()):
        np.testing.assert_array_equal(before, after)
    images = model.images()
    assert images.dtype == np.uint8 and images.shape == (1, 24, 32, 3)
    # The logged total is the sum of its parts.
    np.testing.assert_allclose(
        history.history["loss"],
        np.add(history.history["content_loss"], history.history["style_loss"]),
        rtol=1e-5,
    )


def test_evaluate_reports_current_losses(content_path, style_path):
    task = _task(content_path, style_path, total_variation_weight=1e-3)
    model = _model(task)
    logs = model.evaluate(task, return_dict=True, verbose=0)
    losses = model.variant_losses()
    for key in ("loss", "content_loss", "style_loss", "total_variation_loss"):
        assert logs[key] == pytest.approx(float(losses[key].sum()), rel=1e-5)


def test_same_seed_same_bytes(content_path, style_path):
    def paint(seed):
        task = _task(content_path, style_path, init="content+noise", seed=seed)
        model = _model(task)
        model.fit(task, epochs=1, steps_per_epoch=4, verbose=0)
        return model.images()

    first = paint(5)
    np.testing.assert_array_equal(first, paint(5))
    assert not np.array_equal(first, paint(6))


@pytest.mark.parametrize("init", ["content", "noise", "content+noise", "style"])
def test_each_init_mode_paints(content_path, style_path, init):
    task = _task(content_path, style_path, init=init)
    model = _model(task)
    start = model.images()
    history = model.fit(task, epochs=2, steps_per_epoch=3, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert not np.array_equal(model.images(), start)


def test_variants_get_their_own_losses(content_path, style_path):
    overrides = [
        {"style_weight": 0.0},
        {"content_weight": 0.0, "style_layers": {"block1_conv1": 1.0}},
        {"init": "noise"},
    ]
    task = _task(content_path, style_path, variants=overrides + [{"init": "noise", "seed": 9}])
    model = _model(task)
    losses = model.variant_losses()
    assert losses["loss"].shape == (5,)
    assert losses["style_loss"][1] == 0 and losses["content_loss"][2] == 0
    assert losses["style_loss/block2_conv1"][2] == 0 and losses["style_loss/block2_conv1"][0] > 0
    # Each row equals a one-image task with that row's settings.
    for row, override in enumerate(overrides, start=1):
        alone = _model(_task(content_path, style_path, **override)).variant_losses()
        np.testing.assert_allclose(losses["loss"][row], alone["loss"][0], rtol=1e-5)
    # A variant's seed changes its initial noise only (the VGG weights are the task's).
    images = task.initial_images()
    assert not np.array_equal(images[3], images[4]) and losses["loss"][3] != losses["loss"][4]
    # One fit updates every row that has something to lower (row 1 starts at its optimum:
    # the content image with no style weight).
    model.fit(task, epochs=1, steps_per_epoch=2, verbose=0)
    changed = [not np.array_equal(a, b) for a, b in zip(model.image.numpy(), images)]
    assert changed == [True, False, True, True, True]


def test_fit_without_steps_per_epoch_ends(content_path, style_path):
    task = _task(
        content_path,
        style_path,
        content_layers={"block1_conv1": 1.0},
        style_layers={"block1_conv1": 1.0},
    )
    model = _model(task)
    steps = []
    callback = keras.callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: steps.append(b))
    model.fit(task, epochs=1, verbose=0, callbacks=[callback])
    assert len(steps) == DEFAULT_STEPS_PER_EPOCH


def test_pixels_stay_in_range(content_path, style_path):
    task = _task(content_path, style_path)
    model = StyleTransferModel(task, weights=None)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=500.0))
    model.fit(task, epochs=1, steps_per_epoch=3, verbose=0)
    image = model.image.numpy()
    assert image.min() >= 0 and image.max() <= 255


def test_compile_defaults(content_path, style_path):
    model = _model(_task(content_path, style_path))
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(10.0)
    assert model.jit_compile is False
    model.compile(optimizer="rmsprop", jit_compile=False)
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    with pytest.raises(
        ValueError, match=r"`optimizer` must be one of \('adam', 'rmsprop', 'sgd', 'lbfgs'\)"
    ):
        model.compile(optimizer="adamw")


def test_bad_model_arguments(content_path, style_path):
    task = _task(content_path, style_path)
    with pytest.raises(ValueError, match=r"`pooling` must be one of .*Received: pooling='median'"):
        StyleTransferModel(task, weights=None, pooling="median")
    with pytest.raises(ValueError, match=r"`task` must be a keras_nst.StyleTask"):
        StyleTransferModel("task.toml", weights=None)
    model = _model(task)
    other = _task(content_path, style_path)
    with pytest.raises(ValueError, match=r"`x` must be the StyleTask this model was built with"):
        model.fit(other, steps_per_epoch=1, verbose=0)


def test_the_row_data_leave_tf_data_autotuning_off():
    # The autotuner's thread sleeps in doubling periods, and a fit that followed another
    # waited for the last one's period to end; a few row indices have nothing to tune.
    from keras_nst.distribute import row_dataset

    dataset = row_dataset(3, 2)
    assert dataset.options().autotune.enabled is False
    assert [list(batch) for batch in dataset.take(2).as_numpy_iterator()] == [[0, 2, 1, -1]] * 2
