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
    expected = [((f[b].T @ f[b] - a.T @ a) ** 2).sum() / (4 * n**2 * m**2) for b in range(3)]
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


def test_trace_sqrt_product_from_the_style_root_matches_the_square_root_with_its_gradient(rng):
    # Two variants whose style covariances have rank 4 and 7 (5 and 8 positions, 12 channels):
    # their roots keep 7 columns, and give the value and gradient of the full S^1/2.
    styles = [rng.normal(size=(positions, 12)) for positions in (5, 8)]
    target = np.stack([np.cov(s, rowvar=False, bias=True) for s in styles])
    painted = rng.normal(size=(2, 40, 12))
    covariance = np.stack([np.cov(p, rowvar=False, bias=True) for p in painted])
    delta = np.array([1e-6, 1e-5])

    root = losses.style_root(target)
    assert root.shape == (2, 12, 7)
    np.testing.assert_allclose(np.einsum("bnk,bmk->bnm", root, root), target, atol=1e-12)

    expected_values, expected_gradients, square_roots = [], [], []
    for s, c, d in zip(target, covariance, delta):
        values, vectors = np.linalg.eigh(s)
        half = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
        square_roots.append(half)
        values, vectors = np.linalg.eigh(half @ c @ half)
        positive = values > 1e-9 * values.max()
        expected_values.append((np.sqrt(values[positive] + d) - np.sqrt(d)).sum())
        slopes = np.where(positive, 0.5 / np.sqrt(np.clip(values, 0, None) + d), 0.0)
        expected_gradients.append(half @ (vectors * slopes) @ vectors.T @ half)

    import tensorflow as tf

    for given in (np.stack(square_roots), root):
        covariance_tensor = tf.constant(covariance)
        with tf.GradientTape() as tape:
            tape.watch(covariance_tensor)
            value = losses.trace_sqrt_product(
                covariance_tensor, tf.constant(given), tf.constant(delta)
            )
        np.testing.assert_allclose(value, expected_values, rtol=1e-6)
        np.testing.assert_allclose(
            tape.gradient(value, covariance_tensor), expected_gradients, rtol=1e-6, atol=1e-9
        )
