"""An impartial judge of paintings: a VGG-19 that no painter optimised.

Every painter in the benchmarks optimises its own network (keras-nst's seeded random VGG-19
with average pooling, or ImageNet's). The judge is another seeded random VGG-19 (seed
`JUDGE_SEED`, max pooling, zero padding, float32), so a painter cannot score well by fitting
the judge's own features. It reports, for a painting against its photo and its style image:

- `gram`: style distance, the mean over conv1_1 ... conv5_1 of `|G - A|^2 / |A|^2` (Gram
  matrices per position);
- `swd`: distribution distance, the mean over the same layers of the sliced 1-Wasserstein
  distance between the painting's and the style's feature vectors (64 random directions,
  quantiles compared), divided by the style features' spread along each direction;
- `content`: `|F - P|^2 / |P|^2` at conv4_2;
- `noise`: the painting's high-frequency energy (what a 3x3 box blur removes) over the photo's;
  1 is as smooth as the photo, speckle shows as > 1.
"""

from __future__ import annotations

import functools

import numpy as np

JUDGE_SEED = 20150826
STYLE_LAYERS = [f"block{b}_conv1" for b in range(1, 6)]
CONTENT_LAYER = "block4_conv2"


@functools.lru_cache(maxsize=1)
def _network():
    from keras_nst.extractor import vgg19_extractor

    return vgg19_extractor(
        STYLE_LAYERS + [CONTENT_LAYER], pooling="max", weights=None, seed=JUDGE_SEED,
        dtype="float32", padding="zeros",
    )


def _features(image: np.ndarray) -> dict[str, np.ndarray]:
    outputs = _network()(np.asarray(image, np.float32)[None])
    return {name: np.asarray(value, np.float64)[0] for name, value in outputs.items()}


def _gram(features: np.ndarray) -> np.ndarray:
    flat = features.reshape(-1, features.shape[-1])
    return flat.T @ flat / len(flat)


def _sliced_wasserstein(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> float:
    a, b = a.reshape(-1, a.shape[-1]), b.reshape(-1, b.shape[-1])
    directions = rng.normal(size=(a.shape[1], 64))
    directions /= np.linalg.norm(directions, axis=0)
    pa, pb = a @ directions, b @ directions
    quantiles = np.linspace(0.0, 1.0, 256)
    qa, qb = np.quantile(pa, quantiles, axis=0), np.quantile(pb, quantiles, axis=0)
    spread = pb.std(axis=0) + 1e-8
    return float(np.mean(np.abs(qa - qb).mean(axis=0) / spread))


def _high_frequency(image: np.ndarray) -> float:
    image = np.asarray(image, np.float64)
    padded = np.pad(image, [(1, 1), (1, 1), (0, 0)], mode="edge")
    blurred = sum(
        padded[1 + dy : 1 + dy + image.shape[0], 1 + dx : 1 + dx + image.shape[1]]
        for dy in (-1, 0, 1) for dx in (-1, 0, 1)
    ) / 9.0
    return float(np.mean((image - blurred) ** 2))


def judge(painting: np.ndarray, photo: np.ndarray, style: np.ndarray) -> dict[str, float]:
    """The judge's scores of `painting` (uint8 or float RGB) against `photo` (same size)
    and `style` (any size). Lower is better for all but `noise`, where nearer 1 is."""
    f, p, s = _features(painting), _features(photo), _features(style)
    rng = np.random.default_rng(0)
    gram = np.mean([
        np.sum((_gram(f[n]) - _gram(s[n])) ** 2) / np.sum(_gram(s[n]) ** 2) for n in STYLE_LAYERS
    ])
    swd = np.mean([_sliced_wasserstein(f[n], s[n], rng) for n in STYLE_LAYERS])
    content = np.sum((f[CONTENT_LAYER] - p[CONTENT_LAYER]) ** 2) / np.sum(p[CONTENT_LAYER] ** 2)
    noise = _high_frequency(painting) / max(_high_frequency(photo), 1e-12)
    return {"gram": float(gram), "swd": float(swd), "content": float(content), "noise": float(noise)}
