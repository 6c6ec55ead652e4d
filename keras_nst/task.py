"""StyleTask: what to paint (images, layers, weights, initial image, variants).

TensorFlow-free: a task loads and checks its images and settings with numpy and Pillow alone,
so every input error surfaces before TensorFlow starts.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from keras_nst import memory
from keras_nst.choices import check_layer_name, layer_index, num_pools_before
from keras_nst.images import load_image, resize_longest_side, resized_shape, validate_size

INIT_MODES = ("content", "noise", "content+noise", "style")

#: Gatys et al.'s content layer: conv4_2 (Keras' block4_conv2 includes the ReLU).
DEFAULT_CONTENT_LAYERS = {"block4_conv2": 1.0}
#: Gatys et al.'s style layers conv1_1 ... conv5_1, each weighted w_l = 1/5.
DEFAULT_STYLE_LAYERS = {f"block{block}_conv1": 0.2 for block in range(1, 6)}

#: The settings a variant may override.
VARIANT_KEYS = (
    "content_weight",
    "style_weight",
    "total_variation_weight",
    "content_layers",
    "style_layers",
    "init",
    "noise_ratio",
    "seed",
    "style_blend",
)


def _check_weight(value: Any, argument: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not math.isfinite(float(value))
        or value < 0
    ):
        raise ValueError(
            f"`{argument}` must be a finite number >= 0. Received: {argument}={value!r}"
        )
    return float(value)


def _check_seed(seed: Any, argument: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`{argument}` must be an integer >= 0. Received: {argument}={seed!r}")
    return int(seed)


def _check_layers(layers: Any, argument: str) -> dict[str, float]:
    """A `{layer: weight}` mapping; a plain list of names means equal weights summing to 1."""
    if isinstance(layers, Mapping):
        items = list(layers.items())
    elif isinstance(layers, Sequence) and not isinstance(layers, str):
        items = [(name, 1.0 / len(layers)) for name in layers] if layers else []
    else:
        raise ValueError(
            f"`{argument}` must be a dict of VGG-19 layer names to weights, e.g. "
            f"{{'block4_conv2': 1.0}}. Received: {argument}={layers!r}"
        )
    checked = {}
    for name, weight in items:
        checked[check_layer_name(name, argument)] = _check_weight(weight, f"{argument}[{name!r}]")
    return dict(sorted(checked.items(), key=lambda item: layer_index(item[0])))


def _check_blend(blend: Any, num_styles: int, argument: str) -> tuple[float, ...]:
    if blend is None:
        return tuple([1.0 / num_styles] * num_styles)
    if isinstance(blend, (str, Mapping)) or not isinstance(blend, Sequence) or len(blend) != num_styles:
        raise ValueError(
            f"`{argument}` must be a list of {num_styles} weights, one per style image. "
            f"Received: {argument}={blend!r}"
        )
    values = [_check_weight(value, f"{argument}[{index}]") for index, value in enumerate(blend)]
    if sum(values) <= 0:
        raise ValueError(
            f"`{argument}` must have at least one positive weight. Received: {argument}={blend!r}"
        )
    return tuple(value / sum(values) for value in values)


def _check_noise_ratio(value: Any, argument: str) -> float:
    ratio = _check_weight(value, argument)
    if ratio > 1:
        raise ValueError(f"`{argument}` must be in [0, 1]. Received: {argument}={value!r}")
    return ratio


#: Images smaller than this (shorter side, before resizing) carry no content or style to transfer.
MIN_SOURCE_SIDE = 16


def _check_source(image: np.ndarray, argument: str) -> np.ndarray:
    """Refuses degenerate images (a 1-pixel image would resize to a flat colour)."""
    if min(image.shape[:2]) < MIN_SOURCE_SIDE:
        raise ValueError(
            f"`{argument}` image is {image.shape[1]}x{image.shape[0]} pixels; it needs at least "
            f"{MIN_SOURCE_SIDE} pixels on each side. Received: {argument} of that size"
        )
    return image


@dataclasses.dataclass(frozen=True)
class Variant:
    """The resolved settings of one painted image of a task (see `StyleTask.variants`)."""

    content_weight: float
    style_weight: float
    total_variation_weight: float
    content_layers: dict[str, float]
    style_layers: dict[str, float]
    init: Any
    noise_ratio: float
    seed: int
    style_blend: tuple[float, ...]

    def describe_init(self) -> str:
        return self.init if isinstance(self.init, str) else "image"


class StyleTask:
    """What to paint: a content image, style image(s), layers, weights and the initial image.

    Defaults follow Gatys et al.: content at `block4_conv2` (their conv4_2), style at
    `block1_conv1` ... `block5_conv1` with w_l = 1/5 each, and alpha/beta =
    `content_weight / style_weight` = 10 / 1e4 = 1e-3.

    Args:
        content: path, `PIL.Image.Image` or RGB array of the photograph.
        style: path, PIL image or array of the painting, or a list of them (blended by
            `style_blend`).
        size: longest side of the painted image in pixels (the content image is resized to it,
            keeping its aspect ratio); `None` keeps the content image's size.
        style_size: longest side the style images are resized to; defaults to `size`. Style
            Grams are per-position averages, so this sets the scale of the strokes, not the
            weight of the style.
        content_layers: `{layer_name: weight}` of the content loss (a list means equal weights).
        style_layers: `{layer_name: w_l}` of the style loss.
        content_weight: alpha.
        style_weight: beta.
        total_variation_weight: weight of an optional smoothness prior (not in the paper).
        init: the initial image: `"content"` (what strong implementations start from; with
            random VGG weights noise-based inits stay noisy), `"noise"` (uniform white noise
            in [0, 255], the paper's choice), `"content+noise"` (`(1 - noise_ratio) * content +
            noise_ratio * noise`), `"style"` (the first style image stretched to the content's
            size), or an image (path, PIL image or array, resized to the content's size).
        noise_ratio: share of noise for `init="content+noise"`, in [0, 1].
        seed: seeds the noise of the initial image and the random VGG weights (`weights=None`).
        style_blend: weights of the style images (normalised to sum to 1); default equal.
            The target Gram of each layer is the blend of the style images' Grams.
        variants: list of dicts, each overriding any of `VARIANT_KEYS` for one extra image
            painted in the same fit. A task paints `1 + len(variants)` images; the first uses
            the task's own settings.

    Raises:
        ValueError: any bad argument or unreadable image, naming it.

    Example:

    >>> task = StyleTask("photo.jpg", "painting.jpg", size=256,
    ...                  variants=[{"style_weight": 1e5}, {"init": "noise"}])
    >>> task.num_variants
    3
    """

    def __init__(
        self,
        content,
        style,
        *,
        size: int | None = 512,
        style_size: int | None = None,
        content_layers: Mapping[str, float] | Sequence[str] | None = None,
        style_layers: Mapping[str, float] | Sequence[str] | None = None,
        content_weight: float = 10.0,
        style_weight: float = 1e4,
        total_variation_weight: float = 0.0,
        init: Any = "content",
        noise_ratio: float = 0.6,
        seed: int = 0,
        style_blend: Sequence[float] | None = None,
        variants: Sequence[Mapping[str, Any]] | None = None,
    ):
        # === Images ===
        # Decoded here, so a missing or corrupt file is named at once; resized on first use,
        # so that a size too large for memory is refused before any work is spent on it.
        self.size = validate_size(size, "size")
        self.style_size = validate_size(style_size, "style_size") or self.size
        self.content = content
        self.style = style
        self._content_source = _check_source(load_image(content, argument="content"), "content")
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        if not styles:
            raise ValueError("`style` must name at least one style image. Received: style=[]")
        names = ["style"] if len(styles) == 1 else [f"style[{i}]" for i in range(len(styles))]
        self._style_sources = [
            _check_source(load_image(image, argument=name), name) for name, image in zip(names, styles)
        ]
        self.height, self.width = resized_shape(*self._content_source.shape[:2], self.size)
        self.style_shapes = [
            resized_shape(*source.shape[:2], self.style_size) for source in self._style_sources
        ]

        # === Settings ===
        self.seed = _check_seed(seed)
        base = {
            "content_weight": content_weight,
            "style_weight": style_weight,
            "total_variation_weight": total_variation_weight,
            "content_layers": DEFAULT_CONTENT_LAYERS if content_layers is None else content_layers,
            "style_layers": DEFAULT_STYLE_LAYERS if style_layers is None else style_layers,
            "init": init,
            "noise_ratio": noise_ratio,
            "seed": seed,
            "style_blend": style_blend,
        }
        if variants is None:
            variants = []
        if isinstance(variants, (str, Mapping)) or not isinstance(variants, Sequence):
            raise ValueError(
                "`variants` must be a list of dicts of settings to override. "
                f"Received: variants={variants!r}"
            )
        self.variants = (self._resolve(base, ""),) + tuple(
            self._resolve({**base, **self._check_overrides(overrides, index)}, f"variants[{index}].")
            for index, overrides in enumerate(variants)
        )
        self._check_image_sizes()
        memory.check_images_fit(
            [(self.height, self.width)] * self.num_variants, "size", self.size
        )
        memory.check_images_fit(self.style_shapes, "style_size", self.style_size)

    # === Validation ===

    @staticmethod
    def _check_overrides(overrides: Any, index: int) -> dict:
        if not isinstance(overrides, Mapping):
            raise ValueError(
                f"`variants[{index}]` must be a dict of settings to override. "
                f"Received: variants[{index}]={overrides!r}"
            )
        for key in overrides:
            if key not in VARIANT_KEYS:
                close = difflib.get_close_matches(str(key), VARIANT_KEYS, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"`variants[{index}]` has an unknown setting.{hint} Valid settings: "
                    f"{', '.join(VARIANT_KEYS)}. Received: variants[{index}] key {key!r}"
                )
        return dict(overrides)

    def _resolve(self, settings: dict, prefix: str) -> Variant:
        variant = Variant(
            content_weight=_check_weight(settings["content_weight"], f"{prefix}content_weight"),
            style_weight=_check_weight(settings["style_weight"], f"{prefix}style_weight"),
            total_variation_weight=_check_weight(
                settings["total_variation_weight"], f"{prefix}total_variation_weight"
            ),
            content_layers=_check_layers(settings["content_layers"], f"{prefix}content_layers"),
            style_layers=_check_layers(settings["style_layers"], f"{prefix}style_layers"),
            init=self._check_init(settings["init"], f"{prefix}init"),
            noise_ratio=_check_noise_ratio(settings["noise_ratio"], f"{prefix}noise_ratio"),
            seed=_check_seed(settings["seed"], f"{prefix}seed"),
            style_blend=_check_blend(
                settings["style_blend"], len(self._style_sources), f"{prefix}style_blend"
            ),
        )
        total = (
            variant.content_weight * sum(variant.content_layers.values())
            + variant.style_weight * sum(variant.style_layers.values())
            + variant.total_variation_weight
        )
        if total <= 0:
            raise ValueError(
                f"`{prefix}content_weight`, `{prefix}style_weight` and their layer weights are "
                "all zero: there is nothing to optimise. Received: "
                f"{prefix}content_weight={variant.content_weight}, "
                f"{prefix}style_weight={variant.style_weight}, "
                f"{prefix}content_layers={variant.content_layers}, "
                f"{prefix}style_layers={variant.style_layers}"
            )
        return variant

    def _check_init(self, init: Any, argument: str):
        if isinstance(init, str) and not os.path.exists(init):
            if init not in INIT_MODES:
                raise ValueError(
                    f"`{argument}` must be one of {INIT_MODES} or an image (path, PIL image or "
                    f"array). Received: {argument}={init!r}"
                )
            return init
        return load_image(init, argument=argument)

    def _stretch(self, image: np.ndarray) -> np.ndarray:
        """Resizes an image to exactly the content's size (aspect ratio not kept)."""
        resized = Image.fromarray(image).resize((self.width, self.height), Image.Resampling.LANCZOS)
        return np.asarray(resized, dtype=np.uint8)

    def _check_image_sizes(self):
        layers = {name for variant in self.variants for name in variant.content_layers}
        layers |= {name for variant in self.variants for name in variant.style_layers}
        for argument, shapes, used in (
            ("content", [(self.height, self.width)], layers),
            ("style", self.style_shapes, self.style_layer_names),
        ):
            if not used:
                continue
            deepest = max(used, key=layer_index)
            # Each 2x2 pooling (up to and including `deepest`) halves the size, rounding down.
            minimum = 2 ** num_pools_before(deepest)
            for height, width in shapes:
                if min(height, width) < minimum:
                    raise ValueError(
                        f"`{argument}` image is {width}x{height} pixels after "
                        f"resizing; layer {deepest!r} needs at least {minimum} pixels on each "
                        f"side. Use a larger `size` or shallower layers. Received: size={self.size}"
                    )

    # === Derived values ===

    @property
    def num_variants(self) -> int:
        """How many images one fit paints: `1 + len(variants)`."""
        return len(self.variants)

    @functools.cached_property
    def content_image(self) -> np.ndarray:
        """The content image at the painted size, RGB `uint8` `(height, width, 3)`."""
        return resize_longest_side(self._content_source, self.size)

    @functools.cached_property
    def style_images(self) -> list[np.ndarray]:
        """The style images at `style_size`, RGB `uint8`."""
        return [resize_longest_side(source, self.style_size) for source in self._style_sources]

    @property
    def content_layer_names(self) -> list[str]:
        """Every content layer any variant weighs, in network order."""
        names = {name for variant in self.variants for name in variant.content_layers}
        return sorted(names, key=layer_index)

    @property
    def style_layer_names(self) -> list[str]:
        """Every style layer any variant weighs, in network order."""
        names = {name for variant in self.variants for name in variant.style_layers}
        return sorted(names, key=layer_index)

    def initial_images(self) -> np.ndarray:
        """The starting images of all variants, float32 `(num_variants, H, W, 3)` in [0, 255]."""
        content = self.content_image.astype(np.float32)
        images = []
        for variant in self.variants:
            if isinstance(variant.init, np.ndarray):
                images.append(self._stretch(variant.init).astype(np.float32))
                continue
            if variant.init == "content":
                images.append(content)
            elif variant.init == "style":
                # From the original (not the style_size copy), as an image `init` would be.
                images.append(self._stretch(self._style_sources[0]).astype(np.float32))
            else:
                rng = np.random.default_rng(variant.seed)
                noise = rng.uniform(0.0, 255.0, size=content.shape).astype(np.float32)
                if variant.init == "noise":
                    images.append(noise)
                else:
                    ratio = np.float32(variant.noise_ratio)
                    images.append((1 - ratio) * content + ratio * noise)
        return np.stack(images).astype(np.float32)

    def get_config(self) -> dict:
        """The task's settings as plain, JSON-serialisable values (images by path or shape)."""

        def image_name(image):
            if isinstance(image, (str, os.PathLike)):
                return os.fspath(image)
            return f"<{type(image).__name__}>"

        config = {
            "content": image_name(self.content),
            "style": [image_name(s) for s in (self.style if isinstance(self.style, (list, tuple)) else [self.style])],
            "size": self.size,
            "style_size": self.style_size,
            "height": self.height,
            "width": self.width,
            "seed": self.seed,
        }
        variants = []
        for variant in self.variants:
            fields = dataclasses.asdict(variant)
            fields["init"] = variant.describe_init()
            fields["style_blend"] = list(variant.style_blend)
            variants.append(fields)
        config.update({k: v for k, v in variants[0].items() if k != "seed"})
        config["variants"] = variants[1:]
        return config

    def __repr__(self) -> str:
        return (
            f"StyleTask(size={self.height}x{self.width}, styles={len(self._style_sources)}, "
            f"num_variants={self.num_variants})"
        )
