"""StyleTask: what to paint (images, layers, weights, initial image, variants).

TensorFlow-free: a task loads and checks its images and settings with numpy and Pillow alone,
so every input error surfaces before TensorFlow starts. Its settings, their defaults and their
checks come from `keras_nst.settings`.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import inspect
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PIL import Image

from keras_nst import colour, memory, vgg19
from keras_nst import settings as settings_lib
from keras_nst.images import (
    load_image,
    load_image_and_alpha,
    resize_longest_side,
    resized_shape,
)
from keras_nst.settings import (  # noqa: F401  (re-exported: where users found them before)
    DEFAULT_CONTENT_LAYERS,
    DEFAULT_STYLE_LAYERS,
    INIT_MODES,
    VARIANT_KEYS,
)

#: Task settings that hold for every variant alike (size and style_size aside).
TASK_WIDE = tuple(
    setting
    for setting in settings_lib.TASK_SETTINGS
    if not setting.variant and setting.name not in ("size", "style_size")
)

#: Images smaller than this (shorter side, before resizing) carry no content or style to transfer.
MIN_SOURCE_SIDE = 16


def _check_source(image: np.ndarray, argument: str) -> np.ndarray:
    """Refuses degenerate images (a 1-pixel image would resize to a flat colour)."""
    if min(image.shape[:2]) < MIN_SOURCE_SIDE:
        # Refused rather than enlarged: a few pixels blown up carry no strokes to transfer.
        raise ValueError(
            f"`{argument}` image is {image.shape[1]}x{image.shape[0]} pixels; it needs at least "
            f"{MIN_SOURCE_SIDE} pixels on each side (a painting of a few hundred shows its "
            f"strokes). Received: a {argument} image of {image.shape[1]}x{image.shape[0]} pixels"
        )
    return image


def _describe_init(self) -> str:
    return self.init if isinstance(self.init, str) else "image"


#: The resolved settings of one painted image of a task (see `StyleTask.variants`): one
#: attribute per key of `VARIANT_KEYS`.
Variant = dataclasses.make_dataclass(
    "Variant",
    [(name, Any) for name in VARIANT_KEYS],
    frozen=True,
    namespace={"describe_init": _describe_init, "__module__": __name__},
)


def _digest(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    return hashlib.sha256(str(array.shape).encode() + array.tobytes()).hexdigest()[:16]


class StyleTask:
    """What to paint: a content image, style image(s), layers, weights and the initial image.

    Defaults follow Gatys et al.: content at `block4_conv2` (their conv4_2), style at
    `block1_conv1` ... `block5_conv1` with w_l = 1/5 each, and alpha/beta =
    `content_weight / style_weight` = 10 / 1e4 = 1e-3.

    Args:
        content: path, `PIL.Image.Image` or RGB array of the photograph.
        style: path, PIL image or array of the painting, or a list of them (blended by
            `style_blend`).
        variants: list of dicts, each overriding any of `VARIANT_KEYS` for one extra image
            painted in the same fit. A task paints `1 + len(variants)` images; the first uses
            the task's own settings.
        **settings: any of the settings below (`keras_nst.settings.TASK_SETTINGS`).

    Settings:
        size: longest side of the painted image in pixels (the content image is resized to
            it, keeping its aspect ratio); `None` keeps the content image's size.
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

    Raises:
        ValueError: any bad argument or unreadable image, naming it.

    Example:

    >>> task = StyleTask("photo.jpg", "painting.jpg", size=256,
    ...                  variants=[{"style_weight": 1e5}, {"init": "noise"}])
    >>> task.num_variants
    3
    """

    def __init__(
        self, content, style, *, variants: Sequence[Mapping[str, Any]] | None = None, **settings
    ):
        valid = [setting.name for setting in settings_lib.TASK_SETTINGS]
        settings_lib.check_known(settings, valid, "StyleTask")
        values = {**settings_lib.defaults(settings_lib.TASK_SETTINGS), **settings}

        # === Images ===
        # Decoded here, so a missing or corrupt file is named at once; resized on first use,
        # so that a size too large for memory is refused before any work is spent on it.
        self.size = settings_lib.check_size_or_auto(values["size"], "size")
        self.content = content
        self.style = style
        source, self._content_alpha = load_image_and_alpha(content, argument="content")
        self._content_source = _check_source(source, "content")
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        if not styles:
            raise ValueError("`style` must name at least one style image. Received: style=[]")
        names = ["style"] if len(styles) == 1 else [f"style[{i}]" for i in range(len(styles))]
        self._style_sources = [
            _check_source(load_image(image, argument=name), name)
            for name, image in zip(names, styles)
        ]

        # === Settings ===
        base = {key: values[key] for key in VARIANT_KEYS}
        if variants is None:
            variants = []
        if isinstance(variants, (str, Mapping)) or not isinstance(variants, Sequence):
            raise ValueError(
                "`variants` must be a list of dicts of settings to override. "
                f"Received: variants={variants!r}"
            )
        overrides = [self._check_overrides(o, index) for index, o in enumerate(variants)]
        self.variants = (self._resolve(base, ""),) + tuple(
            self._resolve({**base, **o}, f"variants[{index}].") for index, o in enumerate(overrides)
        )
        self.seed = self.variants[0].seed
        # Settings of the whole task (not per variant), e.g. `calibration`, `style_loss`.
        for setting in TASK_WIDE:
            setattr(self, setting.name, setting.check(values[setting.name], setting.name))
        self._overrides = overrides
        self._init_argument = values["init"]
        if self.size == "auto":
            self.size = self._largest_untiled_size()
        self.style_size = settings_lib.check_size(values["style_size"], "style_size") or self.size
        self.height, self.width = resized_shape(*self._content_source.shape[:2], self.size)
        self.style_shapes = [
            resized_shape(*source.shape[:2], self.style_size) for source in self._style_sources
        ]
        self._check_image_sizes()
        memory.check_images_fit([(self.height, self.width)] * self.num_variants, "size", self.size)
        memory.check_images_fit(self.style_shapes, "style_size", self.style_size)

    def _largest_untiled_size(self) -> int:
        """`size="auto"`: the largest size this machine paints without tiles at the default
        precision, and at most the photo's own longest side."""
        from keras_nst.precision import resolve_precision_on_cpu

        height, width = self._content_source.shape[:2]
        largest = memory.largest_size(
            height, width, self, precision=resolve_precision_on_cpu("auto")
        )
        return min(largest, max(height, width))

    # === Validation ===

    @staticmethod
    def _check_overrides(overrides: Any, index: int) -> dict:
        if not isinstance(overrides, Mapping):
            raise ValueError(
                f"`variants[{index}]` must be a dict of settings to override. "
                f"Received: variants[{index}]={overrides!r}"
            )
        settings_lib.check_known(overrides, VARIANT_KEYS, f"variants[{index}]")
        return dict(overrides)

    def _resolve(self, values: dict, prefix: str):
        resolved = {}
        for key in VARIANT_KEYS:
            setting = settings_lib.BY_NAME[key]
            resolved[key] = setting.check(values[key], f"{prefix}{key}")
        resolved["init"] = self._check_init(resolved["init"], f"{prefix}init")
        resolved["style_blend"] = self._normalise_blend(
            resolved["style_blend"], f"{prefix}style_blend"
        )
        variant = Variant(**resolved)
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

    def _normalise_blend(self, blend, argument: str) -> tuple[float, ...]:
        num_styles = len(self._style_sources)
        if blend is None:
            return tuple([1.0 / num_styles] * num_styles)
        if len(blend) != num_styles:
            raise ValueError(
                f"`{argument}` must be a list of {num_styles} weights, one per style image. "
                f"Received: {argument}={list(blend)!r}"
            )
        if sum(blend) <= 0:
            raise ValueError(
                f"`{argument}` must have at least one positive weight. "
                f"Received: {argument}={list(blend)!r}"
            )
        return tuple(value / sum(blend) for value in blend)

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
        layers = set(self.content_layer_names) | set(self.style_layer_names)
        for argument, value, shapes, used in (
            ("content", self.size, [(self.height, self.width)], layers),
            ("style", self.style_size, self.style_shapes, self.style_layer_names),
        ):
            if not used:
                continue
            deepest = vgg19.deepest(used)
            # Each 2x2 pooling (up to and including `deepest`) halves the size, rounding down.
            minimum = vgg19.stride(deepest)
            size_argument = "size" if argument == "content" else "style_size"
            for height, width in shapes:
                if min(height, width) < minimum:
                    raise ValueError(
                        f"`{argument}` image is {width}x{height} pixels after "
                        f"resizing; layer {deepest!r} needs at least {minimum} pixels on each "
                        f"side. Use a larger `{size_argument}` or shallower layers. "
                        f"Received: {size_argument}={value}"
                    )

    # === Derived values ===

    @property
    def num_variants(self) -> int:
        """How many images one fit paints: `1 + len(variants)`."""
        return len(self.variants)

    @functools.cached_property
    def content_alpha(self) -> np.ndarray | None:
        """The photo's transparency at the painted size, `uint8` `(height, width)`, or `None`
        where it has none. Transparent pixels are painted over white; the output keeps the
        transparency (`save_image(..., alpha=)`)."""
        if self._content_alpha is None:
            return None
        return resize_longest_side(np.repeat(self._content_alpha[..., None], 3, -1), self.size)[
            ..., 0
        ]

    @functools.cached_property
    def content_image(self) -> np.ndarray:
        """The content image at the painted size, RGB `uint8` `(height, width, 3)`."""
        return resize_longest_side(self._content_source, self.size)

    @functools.cached_property
    def style_images(self) -> list[np.ndarray]:
        """The style images at `style_size`, RGB `uint8`; with `preserve_color`, recoloured
        to the photo's colours ("histogram") or made grey with the photo's luminance mean
        and spread ("luminance"), as Gatys et al. 2017 do."""
        styles = [resize_longest_side(source, self.style_size) for source in self._style_sources]
        if self.preserve_color == "histogram":
            return [colour.match_colours(style, self.content_image) for style in styles]
        if self.preserve_color == "luminance":
            return [colour.match_luminance(style, self.content_image) for style in styles]
        return styles

    @property
    def content_layer_names(self) -> list[str]:
        """Every content layer any variant weighs, in network order."""
        names = {name for variant in self.variants for name in variant.content_layers}
        return sorted(names, key=vgg19.layer_index)

    @property
    def style_layer_names(self) -> list[str]:
        """Every style layer any variant weighs, in network order."""
        names = {name for variant in self.variants for name in variant.style_layers}
        return sorted(names, key=vgg19.layer_index)

    def initial_images(self) -> np.ndarray:
        """The starting images of all variants, float32 `(num_variants, H, W, 3)` in [0, 255]."""
        content = self.content_image.astype(np.float32)
        images = []
        for variant in self.variants:
            if isinstance(variant.init, np.ndarray):
                images.append(self._stretch(variant.init).astype(np.float32))
            elif variant.init == "content":
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

    def at_size(self, size: int) -> StyleTask:
        """The same task painted at another longest side, for a stage of a schedule.

        The images are not decoded again; the style images are resized in proportion, so
        strokes keep their size relative to the picture.
        """
        size = settings_lib.check_size(size, "size")
        if size == self.size:
            return self
        task = copy.copy(self)
        for cached in ("content_image", "style_images", "content_alpha"):
            task.__dict__.pop(cached, None)
        task.size = size
        task.style_size = max(1, round(self.style_size * size / self.size))
        task.height, task.width = resized_shape(*self._content_source.shape[:2], size)
        task.style_shapes = [
            resized_shape(*source.shape[:2], task.style_size) for source in self._style_sources
        ]
        task._check_image_sizes()
        return task

    # === Identity and serialization ===

    def settings(self) -> dict[str, Any]:
        """The task's own settings (the first variant's), by name."""
        values = {key: getattr(self.variants[0], key) for key in VARIANT_KEYS}
        values.update(size=self.size, style_size=self.style_size)
        values.update({setting.name: getattr(self, setting.name) for setting in TASK_WIDE})
        return values

    def fingerprint(self) -> dict[str, Any]:
        """What makes this painting this one: a digest of every image's pixels and every
        setting, JSON-serialisable. Paths play no part: `./x.jpg` and `x.jpg` are the same
        task, and a file changed under the same name is another."""

        def plain(variant) -> dict:
            fields = dataclasses.asdict(variant)
            if isinstance(variant.init, np.ndarray):
                fields["init"] = "image:" + _digest(variant.init)
            fields["style_blend"] = list(variant.style_blend)
            return fields

        images = {"content": _digest(self._content_source)}
        images.update({f"style[{i}]": _digest(s) for i, s in enumerate(self._style_sources)})
        return {
            "images": images,
            "settings": {
                "size": self.size,
                "style_size": self.style_size,
                "height": self.height,
                "width": self.width,
                "variants": [plain(variant) for variant in self.variants],
                **{setting.name: getattr(self, setting.name) for setting in TASK_WIDE},
            },
        }

    def get_config(self) -> dict:
        """The arguments that rebuild this task: `StyleTask(**task.get_config())`.

        Images are given as they were (paths stay paths, so the config is JSON-serialisable
        when they are); settings are the checked values.
        """

        def plain(value):
            if isinstance(value, tuple):
                return list(value)
            if isinstance(value, os.PathLike):
                return os.fspath(value)
            return value

        style = (
            [plain(s) for s in self.style]
            if isinstance(self.style, (list, tuple))
            else plain(self.style)
        )
        config = {"content": plain(self.content), "style": style}
        for key, value in self.settings().items():
            config[key] = plain(value)
        config["init"] = plain(self._init_argument)  # a path stays a path
        config["style_blend"] = list(self.variants[0].style_blend)
        config["variants"] = [
            {key: plain(value) for key, value in overrides.items()} for overrides in self._overrides
        ]
        return config

    @classmethod
    def from_config(cls, config: dict) -> StyleTask:
        return cls(**config)

    def __repr__(self) -> str:
        return (
            f"StyleTask(size={self.height}x{self.width}, styles={len(self._style_sources)}, "
            f"num_variants={self.num_variants})"
        )


def _signature() -> inspect.Signature:
    """`StyleTask`'s signature as `help()` and editors show it: one keyword per setting."""
    parameters = [
        inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("content", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        inspect.Parameter("style", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        *(
            inspect.Parameter(s.name, inspect.Parameter.KEYWORD_ONLY, default=s.default)
            for s in settings_lib.TASK_SETTINGS
        ),
        inspect.Parameter("variants", inspect.Parameter.KEYWORD_ONLY, default=None),
    ]
    return inspect.Signature(parameters)


StyleTask.__init__.__signature__ = _signature()
