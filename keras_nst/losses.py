"""The losses of Gatys, Ecker and Bethge, "A Neural Algorithm of Artistic Style" (2015).

Every function returns one value per batch item, shape `(B,)`, computed in float32 whatever the
dtype of the features (so Grams and losses stay exact under mixed precision).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import ops


def _float32(tensor):
    return ops.cast(tensor, "float32")


def gram_matrix(features):
    """Gram matrices of feature maps, divided by the number of positions.

    `G_ij = (1 / M) * sum_k F_ik F_jk` for features `F` with `N` channels at `M = H * W`
    positions.

    Args:
        features: `(B, H, W, N)` feature maps.

    Returns:
        `(B, N, N)` float32 Gram matrices.
    """
    # Deviation from Gatys et al.: their G is the plain sum over positions. We divide by M so a
    # style image of any size gives the same target; `style_loss` divides by 4 N^2 only, so for
    # equal sizes E_l = sum (G - A)^2 / (4 N^2 M^2) exactly as in the paper.
    features = _float32(features)
    shape = ops.shape(features)
    num_positions = shape[1] * shape[2]
    flat = ops.reshape(features, (shape[0], -1, shape[3]))
    gram = ops.einsum("bmi,bmj->bij", flat, flat)
    return gram / ops.cast(num_positions, "float32")


def outer_sum(features):
    """The additive statistics of a Gram matrix: `sum_k F_ik F_jk` and the number of positions.

    Sums over positions add up: the statistics of an image are the sum of those of its tiles,
    and a blend of style images is a weighted sum.

    Args:
        features: `(B, H, W, N)` feature maps.

    Returns:
        `(outer, count)`: float32 `(B, N, N)`, and the scalar `M` (the same for every image of
        a batch).
    """
    features = _float32(features)
    shape = ops.shape(features)
    flat = ops.reshape(features, (shape[0], -1, shape[3]))
    outer = ops.einsum("bmi,bmj->bij", flat, flat)
    return outer, ops.cast(shape[1] * shape[2], "float32")


def gram_distance(gram, target_gram):
    """`sum (G - A)^2 / (4 N^2)` per batch item, for per-position Grams (see `style_loss`)."""
    num_channels = ops.cast(ops.shape(gram)[-1], "float32")
    difference = gram - _float32(target_gram)
    return ops.sum(ops.square(difference), axis=(1, 2)) / (4.0 * ops.square(num_channels))


def content_loss(features, target):
    """Content loss `L = 1/2 * sum (F - P)^2` per batch item.

    Args:
        features: `(B, H, W, C)` features of the generated images.
        target: `(B, H, W, C)` or `(1, H, W, C)` features of the content image.

    Returns:
        `(B,)` float32 losses.
    """
    difference = _float32(features) - _float32(target)
    return 0.5 * ops.sum(ops.square(difference), axis=(1, 2, 3))


def style_loss(features, target_gram):
    """Style loss of one layer, `E_l = sum (G - A)^2 / (4 N^2 M^2)`, per batch item.

    With `G` and `A` unnormalised Grams of feature maps with `M` positions this is the paper's
    `E_l`; with `gram_matrix`'s per-position Grams (`G / M`) it is `sum (G/M - A/M)^2 / (4 N^2)`,
    the same number, and independent of the style image's size.

    Args:
        features: `(B, H, W, N)` features of the generated images.
        target_gram: `(N, N)`, `(1, N, N)` or `(B, N, N)` targets from `gram_matrix`.

    Returns:
        `(B,)` float32 losses.
    """
    return gram_distance(gram_matrix(features), target_gram)


def total_variation_loss(images):
    """Total variation `sum (x[i+1, j] - x[i, j])^2 + (x[i, j+1] - x[i, j])^2` per batch item.

    Not in Gatys et al.: an optional smoothness prior (Mahendran and Vedaldi, 2015, with
    exponent 2), off by default (`total_variation_weight=0`).

    Args:
        images: `(B, H, W, C)` images.

    Returns:
        `(B,)` float32 losses.
    """
    images = _float32(images)
    vertical = images[:, 1:, :, :] - images[:, :-1, :, :]
    horizontal = images[:, :, 1:, :] - images[:, :, :-1, :]
    return ops.sum(ops.square(vertical), axis=(1, 2, 3)) + ops.sum(
        ops.square(horizontal), axis=(1, 2, 3)
    )


def feature_sums(features):
    """The additive statistics of a mean and a covariance: `sum_k F_k`, `sum_k F_k F_k^T`, `M`.

    Returns:
        `(total, outer, count)`: float32 `(B, N)`, `(B, N, N)` and the scalar `M`.
    """
    outer, count = outer_sum(features)
    total = ops.sum(_float32(features), axis=(1, 2))
    return total, outer, count


@tf.custom_gradient
def _sum_of_roots(product, delta):
    """`sum_i sqrt(max(l_i, 0) + delta) - sqrt(delta)` over the eigenvalues `l_i` of the
    symmetric float64 `product` `(B, R, R)`, with one eigendecomposition for the value and
    the gradient (`V diag(dl) V^T`: no `1/(l_i - l_j)` terms, so the many equal eigenvalues of
    a rank-deficient product are harmless). Differentiating `eigvalsh` instead costs a second,
    full decomposition in the backward pass."""
    values, vectors = tf.linalg.eigh(product)
    positive = values > 0.0
    shifted = tf.sqrt(tf.maximum(values, 0.0) + delta)
    roots = tf.where(positive, shifted - tf.sqrt(delta), 0.0)

    def gradient(upstream):
        slopes = tf.where(positive, 0.5 / shifted, 0.0) * upstream[:, None]
        return tf.matmul(vectors * slopes[:, None, :], vectors, transpose_b=True), tf.zeros_like(
            delta
        )

    return tf.reduce_sum(roots, axis=-1), gradient


def trace_sqrt_product(covariance, root, delta):
    """`tr((S^1/2 C S^1/2)^1/2)` per batch item, from `C` `(B, N, N)` and a root `R` of `S`
    `(B, N, K)`: any matrix with `R R^T = S`, such as `S^1/2` itself or `S`'s eigenvectors
    scaled by the square roots of its `K` non-zero eigenvalues (`style_root`).

    `R^T C R` (`K x K`) has the non-zero eigenvalues of `S^1/2 C S^1/2`, so a root of a
    rank-deficient `S` (a deep layer of a small style image has fewer positions than
    channels, and dead channels) gives the same value and gradient from a smaller
    eigenproblem. Each eigenvalue `l` contributes `sqrt(max(l, 0) + delta) - sqrt(delta)`
    (`delta` `(B,)`): exactly 0 for the zero eigenvalues (rounding makes some slightly
    negative), within `sqrt(delta)` of `sqrt(l)` for the others, and with a gradient bounded
    by `1 / (2 sqrt(delta))`.
    """
    # In float64: the eigenvalues span squared variances (ten or more decades), and float32
    # rounding of the small ones, after the square root, would be a visible error.
    covariance, root = ops.cast(covariance, "float64"), ops.cast(root, "float64")
    product = ops.matmul(ops.matmul(ops.transpose(root, (0, 2, 1)), covariance), root)
    product = 0.5 * (product + ops.transpose(product, (0, 2, 1)))
    delta = ops.cast(delta, "float64")[:, None]
    return ops.cast(_sum_of_roots(product, delta), "float32")


def style_root(covariance, relative_tolerance=1e-12):
    """A root `R` (`R R^T = S`) of each symmetric positive semi-definite `S` in
    `covariance` `(B, N, N)` (numpy, float64): the eigenvectors scaled by the square roots of
    the eigenvalues above `relative_tolerance` of the largest, as many columns `K` as the
    variant with the most (`(B, N, K)`). The dropped directions' roots are below `1e-6` of the
    largest: at the float32 rounding of a stored `S^1/2`."""
    values, vectors = np.linalg.eigh(covariance)
    largest = np.maximum(values[:, -1:], 1e-300)
    kept = max(1, int((values > relative_tolerance * largest).sum(axis=-1).max()))
    return vectors[:, :, -kept:] * np.sqrt(np.maximum(values[:, None, -kept:], 0.0))


def wasserstein2(mean, covariance, target_mean, target_covariance, target_root, delta):
    """Squared 2-Wasserstein distance between Gaussians, per batch item:

    `|m - m_s|^2 + tr(C) + tr(C_s) - 2 tr((C_s^1/2 C C_s^1/2)^1/2)`,

    with `target_root` any `R` such that `R R^T = C_s` (see `trace_sqrt_product`).
    """
    mean_term = ops.sum(ops.square(mean - target_mean), axis=-1)
    traces = ops.trace(covariance, axis1=1, axis2=2) + ops.trace(
        target_covariance, axis1=1, axis2=2
    )
    return mean_term + traces - 2.0 * trace_sqrt_product(covariance, target_root, delta)
