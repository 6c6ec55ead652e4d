"""Losses against a numpy transcription of Gatys et al.'s formulas."""

import numpy as np
import pytest

from keras_nst import losses


def _flat(features):
    return features.reshape(features.shape[0], -1, features.shape[-1]).astype(np.float64)


def test_gram_matrix_is_sum_over_positions_divided_by_positions(rng):
    features = rng.normal(size=(2, 5, 7, 4)).astype("float32")
    flat = _flat(features)
    expected = np.einsum("bki,bkj->bij", flat, flat) / 35
    np.testing.assert_allclose(losses.gram_matrix(features), expected, rtol=1e-5, atol=1e-6)


def test_content_loss_is_half_sum_of_squares(rng):
    features = rng.normal(size=(3, 4, 6, 8)).astype("float32")
    target = rng.normal(size=(1, 4, 6, 8)).astype("float32")
    expected = 0.5 * ((features.astype(np.float64) - target) ** 2).sum(axis=(1, 2, 3))
    result = np.asarray(losses.content_loss(features, target))
    assert result.shape == (3,)
    np.testing.assert_allclose(result, expected, rtol=1e-5)


def test_style_loss_matches_paper_for_equal_sizes(rng):
    features = rng.normal(size=(3, 5, 7, 4)).astype("float32")
    style = rng.normal(size=(1, 5, 7, 4)).astype("float32")
    f, a = _flat(features), _flat(style)[0]
    n, m = 4, 35
    expected = [
        ((f[b].T @ f[b] - a.T @ a) ** 2).sum() / (4 * n**2 * m**2) for b in range(3)
    ]
    result = np.asarray(losses.style_loss(features, losses.gram_matrix(style)))
    assert result.shape == (3,)
    np.testing.assert_allclose(result, expected, rtol=1e-5)


def test_style_target_does_not_depend_on_style_image_size(rng):
    features = rng.normal(size=(1, 6, 6, 3)).astype("float32")
    style = rng.normal(size=(1, 4, 5, 3)).astype("float32")
    # The same texture at 4x the area: tiling keeps the per-position statistics.
    tiled = np.tile(style, (1, 2, 2, 1))
    np.testing.assert_allclose(
        losses.style_loss(features, losses.gram_matrix(tiled)),
        losses.style_loss(features, losses.gram_matrix(style)),
        rtol=1e-5,
    )


def test_style_loss_accepts_unbatched_target(rng):
    features = rng.normal(size=(2, 3, 3, 4)).astype("float32")
    target = np.asarray(losses.gram_matrix(rng.normal(size=(1, 3, 3, 4)).astype("float32")))
    np.testing.assert_allclose(
        losses.style_loss(features, target[0]), losses.style_loss(features, target), rtol=1e-6
    )


def test_total_variation_loss_sums_squared_neighbour_differences(rng):
    images = rng.uniform(0, 255, size=(2, 4, 5, 3)).astype("float32")
    x = images.astype(np.float64)
    expected = ((x[:, 1:] - x[:, :-1]) ** 2).sum(axis=(1, 2, 3)) + (
        (x[:, :, 1:] - x[:, :, :-1]) ** 2
    ).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(losses.total_variation_loss(images), expected, rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_losses_are_float32_for_low_precision_features(dtype, rng):
    import keras

    features = keras.ops.cast(rng.normal(size=(1, 3, 3, 2)), dtype)
    assert keras.ops.dtype(losses.gram_matrix(features)) == "float32"
    assert keras.ops.dtype(losses.content_loss(features, features)) == "float32"
    assert keras.ops.dtype(losses.style_loss(features, losses.gram_matrix(features))) == "float32"
