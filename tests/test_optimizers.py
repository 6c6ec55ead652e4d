"""Optimizer lookup and L-BFGS: a quadratic with a known minimum, and a tiny style task."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_CONTENT_LAYERS, TINY_STYLE_LAYERS

from keras_nst import StyleTask, StyleTransferModel, optimizers


def _minimise(optimizer, a, b, steps):
    """Minimises 1/2 x.A.x - b.x for diagonal A from x = 0; returns x and the losses."""
    x = keras.Variable(np.zeros_like(b), name="x")
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            value = tf.convert_to_tensor(x)
            tape.watch(value)
            loss = 0.5 * tf.reduce_sum(a * value * value) - tf.reduce_sum(b * value)
        optimizer.apply([tape.gradient(loss, value)], [x])
        losses.append(float(loss))
    return np.asarray(x), losses


def test_lbfgs_finds_the_minimum_of_an_ill_conditioned_quadratic(rng):
    a = np.geomspace(1.0, 100.0, 20).astype("float32")
    b = rng.normal(size=20).astype("float32")
    x, losses = _minimise(optimizers.LBFGS(history_size=8, max_step=1.0), a, b, steps=60)
    np.testing.assert_allclose(x, b / a, rtol=1e-3, atol=1e-4)
    # Gradient descent with the best fixed step (2 / (1 + 100)) is far from it by then.
    x_sgd, _ = _minimise(keras.optimizers.SGD(learning_rate=2 / 101), a, b, steps=60)
    assert np.abs(x - b / a).max() < 0.01 * np.abs(x_sgd - b / a).max()


def test_lbfgs_steps_are_capped():
    a = np.ones(5, "float32")
    b = np.full(5, 1000.0, "float32")
    optimizer = optimizers.LBFGS(max_step=2.0)
    x, _ = _minimise(optimizer, a, b, steps=3)
    np.testing.assert_allclose(x, np.full(5, 6.0), rtol=1e-6)


def test_lbfgs_damping_fills_the_history_on_a_style_task(content_path, style_path):
    task = StyleTask(
        content_path,
        style_path,
        size=32,
        content_layers=TINY_CONTENT_LAYERS,
        style_layers=TINY_STYLE_LAYERS,
    )
    model = StyleTransferModel(task, weights=None)
    optimizer = optimizers.LBFGS(history_size=5)
    model.compile(optimizer=optimizer)
    model.fit(task, epochs=1, steps_per_epoch=12, verbose=0)
    # One pair per step after the first: the history wrapped around, none were dropped.
    assert int(optimizer._count[0].numpy()) == 11
    assert (optimizer._rho[0].numpy() > 0).all()


def test_lbfgs_beats_adam_on_a_tiny_style_task(content_path, style_path):
    def final_loss(optimizer):
        task = StyleTask(
            content_path,
            style_path,
            size=32,
            content_layers=TINY_CONTENT_LAYERS,
            style_layers=TINY_STYLE_LAYERS,
            style_weight=1e5,
        )
        model = StyleTransferModel(task, weights=None)
        model.compile(optimizer=optimizer)
        model.fit(task, epochs=1, steps_per_epoch=30, verbose=0)
        return float(model.variant_losses()["loss"][0])

    lbfgs = final_loss("lbfgs")
    adam = final_loss("adam")
    assert lbfgs < 0.5 * adam


def test_get_names_and_learning_rates():
    assert isinstance(optimizers.get("lbfgs"), optimizers.LBFGS)
    assert float(optimizers.get("sgd", 0.5).learning_rate) == pytest.approx(0.5)
    assert float(optimizers.get().learning_rate) == pytest.approx(10.0)
    adam = keras.optimizers.Adam()
    assert optimizers.get(adam) is adam
    with pytest.raises(ValueError, match=r"`learning_rate` must be a positive finite number"):
        optimizers.get("adam", -1.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"history_size": 0}, r"`history_size` must be a positive integer"),
        ({"max_step": float("inf")}, r"`max_step` must be a positive finite number"),
        ({"damping": 1.0}, r"`damping` must be in \[0, 1\)"),
    ],
)
def test_lbfgs_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optimizers.LBFGS(**kwargs)


def test_lbfgs_config_round_trips():
    optimizer = optimizers.LBFGS(learning_rate=0.5, history_size=4, max_step=3.0, damping=0.1)
    clone = optimizers.LBFGS.from_config(optimizer.get_config())
    assert (clone.history_size, clone.max_step, clone.damping) == (4, 3.0, 0.1)
    assert float(clone.learning_rate) == pytest.approx(0.5)


def _numpy_adam(gradients, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """The updates of Adam (Kingma and Ba, as Keras arranges epsilon) from zero moments."""
    m = v = 0.0
    updates = []
    for t, g in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        updates.append(-alpha * m / (np.sqrt(v) + epsilon))
    return updates


def _updates(optimizer, gradients, start):
    x = keras.Variable(np.zeros_like(gradients[0]))
    optimizer.build([x])
    optimizer.iterations.assign(start)
    updates = []
    for g in gradients:
        before = np.asarray(x).copy()
        optimizer.apply([g], [x])
        updates.append(np.asarray(x) - before)
    return updates


def test_an_adam_taking_over_mid_painting_steps_as_a_fresh_one(rng):
    gradients = [rng.normal(size=(2, 3, 3, 1)).astype("float32") * s for s in (1.0, 3.0, 0.5, 2.0)]
    expected = _numpy_adam(gradients, lr=5.0)
    taking_over = optimizers.starting_at(keras.optimizers.Adam(learning_rate=5.0), 1000)
    assert isinstance(taking_over, optimizers.RestartedAdam) and taking_over.start_step == 1000
    for got, want in zip(_updates(taking_over, gradients, start=1000), expected):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=1e-5)
    # Keras' own Adam at step 1000 skips the bias correction: its first step is 2.5x as long.
    plain = _updates(keras.optimizers.Adam(learning_rate=5.0), gradients, start=1000)[0]
    np.testing.assert_allclose(
        np.abs(plain), 5.0 * np.sqrt(1 - 0.999**1001) * 0.1 / np.sqrt(0.001), rtol=1e-3
    )


def test_starting_at_copies_never_the_instance_and_keeps_the_config():
    rmsprop = keras.optimizers.RMSprop(learning_rate=0.3, rho=0.8)
    copy = optimizers.starting_at(rmsprop, 7)
    assert copy is not rmsprop and type(copy) is keras.optimizers.RMSprop
    assert copy.get_config()["rho"] == pytest.approx(0.8)
    lbfgs = optimizers.starting_at(optimizers.LBFGS(history_size=3), 7)
    assert lbfgs.start_step == 7 and lbfgs.history_size == 3
    restarted = optimizers.starting_at(keras.optimizers.Adam(beta_1=0.5), 9)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(restarted))
    assert type(clone) is optimizers.RestartedAdam and clone.start_step == 9 and clone.beta_1 == 0.5
    assert optimizers.name_of(restarted) == "adam"
    with pytest.raises(
        ValueError, match=r"`start_step` must be an integer >= 0. Received: start_step=-1"
    ):
        optimizers.RestartedAdam(start_step=-1)


def test_lbfgs_taking_over_takes_no_pair_from_the_image_before_it():
    # The image before its first step is not one it stepped from: (x - 0, g - 0) is no
    # curvature pair. Its first step is the capped gradient step, as at the very start.
    g = np.ones((1, 4, 4, 3), "float32")
    for start, pairs in ((5, 0), (0, 1)):  # start 0 at step 5: what a carried L-BFGS did before
        x = keras.Variable(np.full((1, 4, 4, 3), 100.0, "float32"))
        optimizer = optimizers.LBFGS(max_step=2.0, start_step=start)
        optimizer.build([x])
        optimizer.iterations.assign(5)
        optimizer.apply([g], [x])
        count = [v for v in optimizer.variables if "count" in v.path][0]
        assert int(count.numpy()) == pairs
        if start == 5:
            np.testing.assert_allclose(np.asarray(x), 98.0)


def test_lbfgs_paints_each_variant_as_it_would_be_painted_alone(content_path, style_path):
    # The variants are one batch variable: L-BFGS' inner products, curvature pairs, descent
    # check and step cap are per image, so one variant does not steer another.
    def painted(**kwargs):
        task = StyleTask(
            content_path,
            style_path,
            size=32,
            content_layers=TINY_CONTENT_LAYERS,
            style_layers=TINY_STYLE_LAYERS,
            **kwargs,
        )
        model = StyleTransferModel(task, weights=None, precision="float32", average=0.0)
        model.compile(optimizer=optimizers.LBFGS(history_size=4))
        model.fit(task, epochs=1, steps_per_epoch=8, verbose=0)
        return model.image.numpy()

    together = painted(style_weight=1e3, variants=[{"style_weight": 1e5}])
    for index, weight in enumerate((1e3, 1e5)):
        np.testing.assert_allclose(together[index], painted(style_weight=weight)[0], atol=0.05)
