"""Colour preservation (Gatys, Bethge, Hertzmann and Shechtman 2017, "Controlling Perceptual
Factors in Neural Style Transfer"), in numpy: TensorFlow-free.

- `"histogram"`: the style image is recoloured before painting so that its colours have the
  photo's mean and covariance (a linear map of RGB), so the painting takes the photo's colours.
- `"luminance"`: the painting is done on luminance alone. The network sees the luminance of
  the image (grey, in all three channels), the style image is made grey with its luminance
  shifted and scaled to the photo's mean and spread, and the result is the photo's colours
  with the painted luminance (`with_luminance`). In YIQ, changing Y alone adds the same
  amount to R, G and B, so the photo's I and Q (its chroma) are left untouched.
"""

from __future__ import annotations

import numpy as np

#: Y of YIQ (ITU-R BT.601 luma): the share of R, G and B in the luminance.
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Y of `(..., 3)` RGB, float32 `(...)`."""
    return np.asarray(rgb, np.float32) @ LUMA


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _sqrtm(matrix: np.ndarray, inverse: bool = False) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    values = np.maximum(values, 1e-5)
    power = -0.5 if inverse else 0.5
    return (vectors * values**power) @ vectors.T


def match_colours(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """`style` (uint8 RGB) with its pixels' mean and covariance made those of `content`."""
    source = style.reshape(-1, 3).astype(np.float64)
    target = content.reshape(-1, 3).astype(np.float64)
    mean_s, mean_c = source.mean(0), target.mean(0)
    cov_s = np.cov(source, rowvar=False) + 1e-3 * np.eye(3)
    cov_c = np.cov(target, rowvar=False) + 1e-3 * np.eye(3)
    transform = _sqrtm(cov_c) @ _sqrtm(cov_s, inverse=True)
    mapped = (source - mean_s) @ transform.T + mean_c
    return _to_uint8(mapped).reshape(style.shape)


def match_luminance(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """`style`'s luminance, shifted and scaled to `content`'s mean and spread, as grey RGB."""
    y_style, y_content = luminance(style), luminance(content)
    spread = y_content.std() / max(float(y_style.std()), 1e-6)
    y = (y_style - y_style.mean()) * spread + y_content.mean()
    return _to_uint8(np.repeat(y[..., None], 3, axis=-1))


def with_luminance(content: np.ndarray, painted: np.ndarray) -> np.ndarray:
    """`content`'s colours with `painted`'s luminance: float32 RGB in [0, 255].

    `content` `(H, W, 3)`, `painted` `(..., H, W, 3)`, both in [0, 255].
    """
    content = np.asarray(content, np.float32)
    shift = luminance(painted) - luminance(content)
    return np.clip(content + shift[..., None], 0.0, 255.0)
