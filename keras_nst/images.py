"""Reading and writing images with Pillow.

Everything here works on plain numpy arrays and never imports TensorFlow, so the command line can
check its images before the (slow, noisy) TensorFlow start-up.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from keras_nst.files import atomic_write
from keras_nst.paths import Locations, check_input_file, check_output_file
from keras_nst.settings import check_size

# Sixteen-bit and 32-bit integer modes that Pillow's own `convert("RGB")` would clip, not scale.
_WIDE_INTEGER_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def _describe(value: Any) -> str:
    """A short description of `value` for error messages (arrays by shape, not contents)."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, Image.Image):
        return f"PIL image of mode {value.mode!r} and size {value.size}"
    return repr(value)


def _open(path: str | os.PathLike, argument: str) -> Image.Image:
    path = check_input_file(path, argument, "image file")
    try:
        # A decompression bomb warning (more than Image.MAX_IMAGE_PIXELS pixels) becomes an error:
        # decoding such a file could exhaust memory before any size check of ours runs.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ValueError(
            f"`{argument}` image is too large to decode safely ({error}). "
            f"Received: {argument}='{path}'"
        ) from None
    except UnidentifiedImageError:
        raise ValueError(
            f"`{argument}` is not an image Pillow can read. Received: {argument}='{path}'"
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        # Truncated or corrupt files raise OSError (or SyntaxError for some formats) on load().
        raise ValueError(
            f"`{argument}` image could not be decoded ({error}). Received: {argument}='{path}'"
        ) from None
    return image


def _pil_to_rgb(image: Image.Image) -> np.ndarray:
    """Converts any Pillow mode to an RGB `uint8` array `(H, W, 3)`."""
    image = ImageOps.exif_transpose(image)
    if image.mode in _WIDE_INTEGER_MODES:
        values = np.asarray(image, dtype=np.float64)
        # 16-bit files use the full 0..65535 range; scale rather than clip.
        grey = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if image.mode == "F":
        grey = np.clip(np.rint(np.asarray(image, dtype=np.float64)), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent pixels are shown over white, as an image viewer would show them.
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _pil_alpha(image: Image.Image) -> np.ndarray | None:
    """A Pillow image's alpha channel as `uint8` `(H, W)`, or `None` where it has none or
    every pixel is opaque."""
    image = ImageOps.exif_transpose(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode not in ("RGBA", "LA", "PA", "RGBa", "La"):
        return None
    alpha = np.asarray(image.convert("RGBA"), dtype=np.uint8)[..., 3]
    return None if alpha.min() == 255 else alpha


def _array_to_rgb(array: np.ndarray, argument: str) -> np.ndarray:
    if array.ndim == 3 and array.shape[-1] in (1, 3, 4):
        pass
    elif array.ndim == 2:
        array = array[..., None]
    else:
        raise ValueError(
            f"`{argument}` array must have shape `(H, W)`, `(H, W, 1)`, `(H, W, 3)` or "
            f"`(H, W, 4)`. Received: {argument}={_describe(array)}"
        )
    if array.dtype == np.uint8:
        values = array
    elif array.dtype == np.uint16:
        values = np.rint(array / 257.0).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer):
        check_pixel_range(array, argument)
        values = np.rint(array).astype(np.uint8)
    else:
        raise ValueError(
            f"`{argument}` array must hold numbers. Received: {argument}={_describe(array)}"
        )
    if values.shape[-1] == 1:
        values = np.repeat(values, 3, axis=-1)
    elif values.shape[-1] == 4:
        # Alpha over white, as for image files.
        alpha = values[..., 3:].astype(np.float64) / 255.0
        values = np.rint(values[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return values


def check_pixel_range(array: np.ndarray, argument: str) -> None:
    """Checks that an array of numbers holds pixels in [0, 255].

    A float array whose values all lie in [0, 1] (what `img_to_array(...) / 255`, skimage and
    matplotlib give) is refused rather than read as a nearly black image.

    Raises:
        ValueError: NaN or Inf, values outside [0, 255], or an ambiguous [0, 1] float array.
    """
    low, high = (array.min(), array.max()) if array.size else (0, 0)
    if not np.all(np.isfinite(array)) or low < 0 or high > 255:
        raise ValueError(
            f"`{argument}` array values must be finite and in [0, 255]. "
            f"Received: {argument}={_describe(array)} with values in [{low}, {high}]"
        )
    check_not_unit_range(array, argument)


def check_not_unit_range(array: np.ndarray, argument: str) -> None:
    """Refuses a float array whose values all lie in [0, 1] and are not all zero."""
    if not np.issubdtype(array.dtype, np.floating) or not array.size:
        return
    low, high = np.nanmin(array), np.nanmax(array)
    if 0 <= low and 0 < high <= 1:
        raise ValueError(
            f"`{argument}` is a float array with every value in [0, 1]; keras-nst reads pixels "
            f"in [0, 255], so it would be a black image. Multiply it by 255 (or pass uint8). "
            f"Received: {argument}={_describe(array)} with values in [{low}, {high}]"
        )


def resized_shape(height: int, width: int, size: int | None) -> tuple[int, int]:
    """`(height, width)` after `resize_longest_side(image, size)`, computed without resizing."""
    if size is None:
        return height, width
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_longest_side(image: np.ndarray, size: int | None) -> np.ndarray:
    """Resizes an RGB `uint8` image so that its longest side is `size` pixels (Lanczos)."""
    height, width = image.shape[:2]
    new_height, new_width = resized_shape(height, width, size)
    if (new_height, new_width) == (height, width):
        return image
    resized = Image.fromarray(image).resize((new_width, new_height), Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8)


def load_image(
    path: str | os.PathLike | Image.Image | np.ndarray,
    size: int | None = None,
    *,
    argument: str = "path",
) -> np.ndarray:
    """Reads an image as RGB `uint8` of shape `(H, W, 3)`.

    EXIF orientation is honoured; grey, palette, alpha (composited over white), CMYK and 16-bit
    inputs become 8-bit RGB.

    Args:
        path: a file path, a `PIL.Image.Image`, or an array of shape `(H, W)`, `(H, W, 1)`,
            `(H, W, 3)` or `(H, W, 4)` (`uint8`, `uint16`, or numbers in [0, 255]).
        size: if given, the image is resized (Lanczos) so that its longest side is `size` pixels,
            keeping its aspect ratio.
        argument: the name used for this input in error messages.

    Returns:
        `uint8` array of shape `(H, W, 3)`.

    Raises:
        ValueError: the file is missing, unreadable, corrupt, too large to decode safely, or the
            array has the wrong shape or values; or `size` is not a positive integer.
    """
    return _load(path, size, argument, alpha=False)[0]


def load_image_and_alpha(
    path: str | os.PathLike | Image.Image | np.ndarray, *, argument: str = "path"
) -> tuple[np.ndarray, np.ndarray | None]:
    """`load_image`'s RGB, and the image's transparency from the same read of the file:
    `uint8` `(H, W)` (255 opaque), or `None` where it has none. A painting of a photo with
    transparent parts keeps them (`save_image(..., alpha=)`)."""
    return _load(path, None, argument, alpha=True)


def _load(path, size, argument: str, alpha: bool):
    """(RGB, alpha or None) from one read; the alpha only where asked for."""
    size = check_size(size)
    if isinstance(path, np.ndarray):
        rgb = _array_to_rgb(path, argument)
        transparency = _array_alpha(path, argument) if alpha else None
    elif isinstance(path, Image.Image):
        rgb = _pil_to_rgb(path)
        transparency = _pil_alpha(path) if alpha else None
    elif isinstance(path, (str, os.PathLike)):
        with _open(path, argument) as image:
            rgb = _pil_to_rgb(image)
            transparency = _pil_alpha(image) if alpha else None
    else:
        raise ValueError(
            f"`{argument}` must be a file path, a PIL image or a numpy array. "
            f"Received: {argument}={_describe(path)}"
        )
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"`{argument}` image is empty. Received: {argument}={_describe(path)}")
    return resize_longest_side(rgb, size), transparency


def _array_alpha(array: np.ndarray, argument: str) -> np.ndarray | None:
    """An `(H, W, 4)` array's alpha channel as `uint8`, or `None` (no channel, or opaque)."""
    if array.ndim != 3 or array.shape[-1] != 4:
        return None
    alpha = _array_to_rgb(np.repeat(array[..., 3:], 3, axis=-1), argument)[..., 0]
    return None if alpha.min() == 255 else alpha


def to_uint8(image: Any) -> np.ndarray:
    """Rounds and clips an RGB image with values in [0, 255] to `uint8`."""
    array = np.asarray(image)
    if array.dtype == np.uint8:
        return array
    return np.clip(np.rint(np.asarray(array, dtype=np.float64)), 0, 255).astype(np.uint8)


def output_format(path: str | os.PathLike, argument: str = "path") -> str:
    """The Pillow format name for an output path, from its extension."""
    suffix = Path(path).suffix.lower()
    formats = Image.registered_extensions()
    if suffix not in formats or formats[suffix] not in Image.SAVE:
        known = sorted(
            ext for ext, fmt in formats.items() if fmt in ("PNG", "JPEG", "WEBP", "TIFF", "BMP")
        )
        raise ValueError(
            f"`{argument}` must end with an image extension Pillow can write, such as "
            f"{', '.join(known)}. Received: {argument}='{path}'"
        )
    return formats[suffix]


def check_output_path(
    path: str | os.PathLike,
    argument: str = "path",
    *,
    inputs: Locations = (),
    refuse_existing: str | None = None,
) -> Path:
    """Checks that an image can be written at `path`, without writing anything.

    Args:
        path: the output image.
        argument: how errors name it.
        inputs: the run's input files as (argument, path): none may be replaced.
        refuse_existing: if set, an existing file is refused; the text names the option that
            asked for it.

    Raises:
        ValueError: the path is a directory, its directory is missing or not writable, its
            extension is not an image format Pillow can write, or it is one of `inputs`.
    """
    path = check_output_file(path, argument, inputs=inputs, refuse_existing=refuse_existing)
    output_format(path, argument)
    return path


#: Formats that keep an alpha channel.
ALPHA_FORMATS = ("PNG", "WEBP", "TIFF", "GIF")


def save_image(path: str | os.PathLike, image: Any, alpha: np.ndarray | None = None) -> Path:
    """Writes an RGB image atomically: to a temporary file beside `path`, then renamed.

    A reader never sees a half-written file, and a failed write leaves any earlier file intact.

    Args:
        path: output file; its extension picks the format (`.png`, `.jpg`, ...).
        image: `(H, W, 3)` array (or `(1, H, W, 3)`), `uint8` or numbers in [0, 255] (rounded and
            clipped), or a `PIL.Image.Image`.
        alpha: a transparency `(h, w)` `uint8` to keep (resized to the image where it differs),
            where the format has one (PNG, WebP, TIFF, GIF); a format without one (JPEG)
            drops it with a warning.

    Returns:
        The path written.

    Raises:
        ValueError: bad path (see `check_output_path`), an image of the wrong shape, or a float
            image with every value in [0, 1] (multiply it by 255).
        WriteError: the file could not be written (e.g. a full disk); an earlier file at
            `path` is intact.
    """
    path = check_output_path(path)
    if isinstance(image, Image.Image):
        pil_image = image.convert("RGB")
    else:
        array = np.asarray(image)
        if array.ndim == 4 and array.shape[0] == 1:
            array = array[0]
        if array.ndim != 3 or array.shape[-1] != 3:
            raise ValueError(
                "`image` must have shape `(H, W, 3)` or `(1, H, W, 3)`. "
                f"Received: image={_describe(array)}"
            )
        check_not_unit_range(array, "image")
        pil_image = Image.fromarray(to_uint8(array), mode="RGB")
    if alpha is not None:
        if output_format(path) in ALPHA_FORMATS:
            mask = Image.fromarray(np.asarray(alpha, np.uint8), mode="L")
            if mask.size != pil_image.size:
                mask = mask.resize(pil_image.size, Image.Resampling.LANCZOS)
            pil_image = pil_image.convert("RGBA")
            pil_image.putalpha(mask)
        else:
            warnings.warn(
                f"the photo's transparent parts are painted opaque: {Path(path).suffix} has no "
                "transparency (a .png output keeps it)",
                RuntimeWarning,
                stacklevel=2,
            )
    with atomic_write(path, "the image") as handle:
        pil_image.save(handle, format=output_format(path))
    return path
