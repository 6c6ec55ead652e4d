"""Loss terms as a seam: a term written outside the package paints, scores as a numpy reference
says, works tiled, and is saved with the model's config."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_CONTENT_LAYERS, TINY_STYLE_LAYERS
from keras import ops

from keras_nst import StyleTask, StyleTransferModel, terms
from keras_nst.features import FeatureSource


@keras.saving.register_keras_serializable(package="test_terms")
class MeanColour(terms.LossTerm):
    """`weight * sum_c (mean_c(x) - target_c)^2`: pulls the picture's mean colour towards a
    given one. Written as a user would, from the `LossTerm` documentation."""

    key = "colour_loss"
    spatial = True

    def __init__(self, task, weight: float = 1.0, colour=(40.0, 80.0, 200.0)):
        self.layers = []
        self.weight, self.colour = float(weight), [float(c) for c in colour]
        self.weights = np.full((task.num_variants, 1), self.weight, "float32")

    def get_config(self) -> dict:
        return {"weight": self.weight, "colour": self.colour}

    def targets(self, task, extract) -> list:
        return [np.array([self.colour], "float32")]

    def statistics(self, features, images, targets, rows) -> list:
        # Additive over pixels: the colour sums and the pixel count.
        count = ops.cast(ops.shape(images)[1] * ops.shape(images)[2], "float32")
        return [ops.sum(ops.cast(images, "float32"), axis=(1, 2)), count]

    def score(self, statistics, targets, rows):
        mean = statistics[0] / statistics[1]
        value = ops.sum(ops.square(mean - targets[0]), axis=-1)
        return terms.per_row(self.weights, rows)[:, 0] * value, {}


@keras.saving.register_keras_serializable(package="test_terms")
class LayerEnergy(terms.LossTerm):
    """`weight * mean(F^2)` of one layer: a term that reads the network, and its targets'
    features through the `FeatureSource` it is given."""

    key = "energy_loss"

    def __init__(self, task, layer: str = "block1_conv1", weight: float = 1e-4):
        self.layers, self.weight = [layer], float(weight)
        self.weights = np.full((task.num_variants, 1), self.weight, "float32")
        self.sources = []

    def get_config(self) -> dict:
        return {"layer": self.layers[0], "weight": self.weight}

    def targets(self, task, extract) -> list:
        features = extract(task.content_image[None].astype("float32"))
        self.sources.append(features)
        _, outer, count = features.moments(self.layers)[self.layers[0]]
        return [np.array([np.trace(outer[0]) / count], "float32")]

    def statistics(self, features, images, targets, rows) -> list:
        values = ops.cast(features[self.layers[0]], "float32")
        count = ops.cast(ops.shape(values)[1] * ops.shape(values)[2], "float32")
        return [ops.sum(ops.square(values), axis=(1, 2, 3)), count]

    def score(self, statistics, targets, rows):
        energy = statistics[0] / statistics[1]
        value = ops.square(energy - targets[0][0])
        return terms.per_row(self.weights, rows)[:, 0] * value, {}


def _task(content_path, style_path, size=32):
    return StyleTask(
        content_path,
        style_path,
        size=size,
        content_layers=TINY_CONTENT_LAYERS,
        style_layers=TINY_STYLE_LAYERS,
    )


def _reference(image: np.ndarray, colour, weight: float) -> tuple[float, np.ndarray]:
    """The mean-colour loss of one image and its gradient, in float64 numpy."""
    image = image.astype(np.float64)
    pixels = image.shape[0] * image.shape[1]
    difference = image.mean(axis=(0, 1)) - np.asarray(colour, np.float64)
    loss = weight * np.sum(difference**2)
    gradient = np.broadcast_to(weight * 2.0 * difference / pixels, image.shape)
    return loss, gradient


def test_a_users_term_scores_and_differentiates_as_a_numpy_reference(content_path, style_path):
    task = _task(content_path, style_path)
    term = MeanColour(task, weight=0.01)
    model = StyleTransferModel(task, weights=None, terms=[*terms.default_terms(task), term])
    image = tf.convert_to_tensor(model.image)
    with tf.GradientTape() as tape:
        tape.watch(image)
        losses = model.compute_losses(image)
        colour = losses["colour_loss"][0]
    expected, expected_gradient = _reference(task.initial_images()[0], term.colour, term.weight)
    assert float(colour) == pytest.approx(expected, rel=1e-5)
    # Summed into the total with the paper's terms.
    assert float(losses["loss"][0]) == pytest.approx(
        float(losses["content_loss"][0] + losses["style_loss"][0] + colour), rel=1e-6
    )
    gradient = tape.gradient(colour, image).numpy()[0]
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-4, atol=1e-9)


def test_painting_with_only_a_users_term_moves_the_picture_where_it_says(content_path, style_path):
    task = _task(content_path, style_path)
    term = MeanColour(task, weight=1.0, colour=(40.0, 80.0, 200.0))
    # (A term that reads the network at zero weight: the extractor needs a layer.)
    parts = [LayerEnergy(task, weight=0.0), term]
    model = StyleTransferModel(task, weights=None, terms=parts, average=0.0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0))
    before = model.image.numpy()[0].astype(np.float64)
    history = model.fit(task, epochs=1, steps_per_epoch=5, verbose=0)
    after = model.image.numpy()[0].astype(np.float64)
    # Plain gradient descent on the reference's gradient, step by step (nothing clips:
    # the steps are small), is what the model painted.
    expected = before.copy()
    for _ in range(5):
        expected = expected - _reference(expected, term.colour, 1.0)[1]
    np.testing.assert_allclose(after, expected, rtol=1e-5, atol=1e-3)
    assert history.history["colour_loss"][-1] < _reference(before, term.colour, 1.0)[0]


def test_a_users_term_is_exact_under_tiles(content_path, style_path):
    """Its statistics add up over tiles, so a tiled step gives the untiled loss and gradient."""
    task = _task(content_path, style_path, size=96)
    parts = [MeanColour(task, weight=0.01), LayerEnergy(task)]
    whole = StyleTransferModel(task, weights=None, terms=parts)
    tiled = StyleTransferModel(task, weights=None, terms=parts, tile=64, tile_cut=None)
    assert tiled.plan is not None and whole.plan is None
    # The targets were read from a tiled source in one and a whole one in the other.
    assert [source.tiled for source in parts[1].sources] == [False, True]
    assert all(isinstance(source, FeatureSource) for source in parts[1].sources)
    np.testing.assert_allclose(tiled.targets[1][0].numpy(), whole.targets[1][0].numpy(), rtol=1e-5)
    image = tf.convert_to_tensor(whole.image)
    rows = tf.range(1)
    with tf.GradientTape() as tape:
        tape.watch(image)
        expected = whole.compute_losses(image, rows)
        total = tf.reduce_sum(expected["loss"])
    expected_gradient = tape.gradient(total, image).numpy()
    losses, gradient = tiled.tiled.losses(image, rows, tape=True)
    for key in ("loss", "colour_loss", "energy_loss"):
        np.testing.assert_allclose(losses[key].numpy(), expected[key].numpy(), rtol=1e-4)
    np.testing.assert_allclose(gradient.numpy(), expected_gradient, rtol=1e-3, atol=1e-6)


def test_a_registered_term_is_saved_with_the_models_config(content_path, style_path):
    task = _task(content_path, style_path)
    model = StyleTransferModel(
        task, weights=None, terms=[*terms.default_terms(task), MeanColour(task, 0.5, (1, 2, 3))]
    )
    config = model.get_config()
    assert config["terms"][-1] == {
        "class_name": "test_terms>MeanColour",
        "config": {"weight": 0.5, "colour": [1.0, 2.0, 3.0]},
    }
    assert config["terms"][0]["class_name"] == "keras_nst>ContentTerm"
    clone = StyleTransferModel.from_config(config)
    assert [type(t) for t in clone.terms] == [type(t) for t in model.terms]
    assert clone.terms[-1].get_config() == model.terms[-1].get_config()
    for key, value in model.variant_losses().items():
        np.testing.assert_allclose(clone.variant_losses()[key], value, rtol=1e-6)


def test_an_unregistered_term_or_name_is_one_clear_error(content_path, style_path):
    task = _task(content_path, style_path)

    class Unregistered(MeanColour):
        pass

    model = StyleTransferModel(task, weights=None, terms=[LayerEnergy(task), Unregistered(task)])
    with pytest.raises(
        ValueError, match=r"must be registered with keras.saving.register_keras_serializable"
    ):
        model.get_config()
    with pytest.raises(ValueError, match=r"Received: 'nowhere>Nothing'"):
        terms.deserialize({"class_name": "nowhere>Nothing", "config": {}}, task)
