"""Reading and writing images: modes, orientation, bad files, atomic writes."""

import os

import numpy as np
import pytest
from PIL import Image

from keras_nst import load_image, save_image


def _write(path, image, **kwargs):
    image.save(path, **kwargs)
    return path


def test_load_path_gives_rgb_uint8_and_resizes_longest_side(content_path):
    full = load_image(content_path)
    assert full.dtype == np.uint8 and full.shape == (768, 1024, 3)
    small = load_image(content_path, size=64)
    assert small.shape == (48, 64, 3)


def test_exif_orientation_is_honoured(tmp_path):
    pixels = np.zeros((10, 20, 3), np.uint8)
    pixels[:, :10] = 255  # white on the left
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = _write(tmp_path / "rotated.jpg", image, exif=exif, quality=95)
    loaded = load_image(path)
    assert loaded.shape == (20, 10, 3)
    # After a clockwise turn the white half is on top.
    assert loaded[:10].mean() > 200 and loaded[10:].mean() < 50


@pytest.mark.parametrize(
    "mode, value, expected",
    [
        ("L", 77, (77, 77, 77)),
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),
        ("I;16", 257 * 100, (100, 100, 100)),
        ("I;16", 65535, (255, 255, 255)),
    ],
)
def test_modes_become_rgb(tmp_path, mode, value, expected):
    image = Image.new(mode, (4, 3), value)
    path = _write(tmp_path / ("x.tif" if mode == "CMYK" else "x.png"), image)
    loaded = load_image(path)
    assert loaded.shape == (3, 4, 3)
    np.testing.assert_array_equal(loaded[0, 0], expected)


def test_alpha_is_composited_over_white(tmp_path):
    image = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    image.putpixel((1, 0), (10, 20, 30, 255))
    loaded = load_image(_write(tmp_path / "a.png", image))
    np.testing.assert_array_equal(loaded[0], [[255, 255, 255], [10, 20, 30]])


def test_palette_with_transparency(tmp_path):
    image = Image.new("P", (2, 1), 0)
    image.putpalette([200, 100, 50] + [0, 0, 255] * 255)
    image.putpixel((1, 0), 1)
    image.info["transparency"] = 1
    loaded = load_image(_write(tmp_path / "p.png", image, transparency=1))
    np.testing.assert_array_equal(loaded[0], [[200, 100, 50], [255, 255, 255]])


def test_arrays_and_pil_images_are_accepted():
    grey = np.full((3, 5), 9, np.uint8)
    assert load_image(grey).shape == (3, 5, 3)
    floats = np.full((2, 2, 3), 127.6, np.float32)
    np.testing.assert_array_equal(load_image(floats), np.full((2, 2, 3), 128, np.uint8))
    assert load_image(Image.new("RGB", (6, 4))).shape == (4, 6, 3)


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((2, 2, 2)), "shape"),
        (np.full((2, 2, 3), 300.0), r"\[0, 255\]"),
        (np.full((2, 2, 3), np.nan), "finite"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
    ],
)
def test_bad_arrays_raise(array, message):
    with pytest.raises(ValueError, match=message):
        load_image(array, argument="content")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p, "does not exist"),
        (lambda p: (p.mkdir(), p)[1], "not a directory"),
        (lambda p: (p.write_text("hello, not pixels"), p)[1], "not an image"),
        (lambda p: (p.write_bytes(b""), p)[1], "not an image"),
    ],
)
def test_bad_files_raise_naming_the_argument(tmp_path, make, message):
    path = make(tmp_path / "image.jpg")
    with pytest.raises(ValueError, match=rf"`style`.*{message}|{message}.*`style`") as error:
        load_image(path, argument="style")
    assert "Received: style=" in str(error.value)


def test_truncated_file_raises(tmp_path, content_path):
    data = content_path.read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="could not be decoded"):
        load_image(path, argument="content")


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = _write(tmp_path / "big.png", Image.new("RGB", (64, 64)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValueError, match="too large to decode"):
        load_image(path, argument="content")


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_bad_size_raises(size, content_path):
    with pytest.raises(ValueError, match=r"`size` must be a positive integer"):
        load_image(content_path, size=size)


def test_save_round_trips_png_exactly(tmp_path, rng):
    pixels = rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    path = save_image(tmp_path / "out.png", pixels)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), pixels)
    assert os.listdir(tmp_path) == ["out.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_save_rounds_and_clips_floats(tmp_path):
    path = save_image(tmp_path / "out.png", np.array([[[-5.0, 127.5, 300.0]]]))
    np.testing.assert_array_equal(np.asarray(Image.open(path))[0, 0], [0, 128, 255])


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    path.write_bytes(b"old")

    def full_disk(self, fp, *args, **kwargs):
        fp.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(OSError, match="No space"):
        save_image(path, np.zeros((2, 2, 3), np.uint8))
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.png"]


@pytest.mark.parametrize(
    "name, message",
    [
        ("missing/out.png", "directory does not exist"),
        ("out.unknown", "image extension"),
        (".", "not a directory"),
    ],
)
def test_bad_output_paths_raise(tmp_path, name, message):
    with pytest.raises(ValueError, match=message):
        save_image(tmp_path / name, np.zeros((2, 2, 3), np.uint8))


def test_save_rejects_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match=r"`image` must have shape"):
        save_image(tmp_path / "x.png", np.zeros((2, 2)))


def test_float_images_in_zero_to_one_are_refused_not_painted_black(tmp_path, rng, content_path):
    unit = rng.uniform(0.0, 1.0, size=(20, 24, 3))
    with pytest.raises(
        ValueError,
        match=r"`content` is a float array with every value in \[0, 1\].*Multiply it by 255",
    ):
        load_image(unit, argument="content")
    np.testing.assert_array_equal(load_image(unit * 255), np.rint(unit * 255).astype(np.uint8))
    assert load_image(np.zeros((20, 24, 3), "float32")).max() == 0  # black is black
    assert load_image((unit * 255).astype(np.uint8)).dtype == np.uint8  # integers are never [0, 1]
    with pytest.raises(ValueError, match=r"`image` is a float array with every value in \[0, 1\]"):
        save_image(tmp_path / "out.png", unit)
    assert not (tmp_path / "out.png").exists()
    from keras_nst import StyleTask

    with pytest.raises(ValueError, match=r"`style` is a float array"):
        StyleTask(content_path, unit.astype("float32"), size=32)
    with pytest.raises(ValueError, match=r"`init` is a float array"):
        StyleTask(content_path, content_path, size=32, init=unit)


def test_a_long_output_name_still_writes_atomically(tmp_path, rng):
    image = rng.integers(0, 256, size=(4, 5, 3), dtype=np.uint8)
    path = tmp_path / ("x" * 251 + ".png")  # 255 bytes: the longest name allowed
    save_image(path, image)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), image)


def test_a_photos_transparency_is_read_and_kept_where_the_format_can(tmp_path):
    import warnings

    from keras_nst.images import load_image_and_alpha

    def load_alpha(image, argument="path"):
        return load_image_and_alpha(image, argument=argument)[1]

    rgba = np.zeros((40, 60, 4), np.uint8)
    rgba[..., :3] = 90
    rgba[..., 3] = 255
    rgba[:, :20, 3] = 0  # the left third transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "cut.png")
    alpha = load_alpha(tmp_path / "cut.png", argument="content")
    np.testing.assert_array_equal(alpha, rgba[..., 3])
    assert (
        load_alpha(rgba[..., :3]) is None and load_alpha(np.full((4, 4, 4), 255, np.uint8)) is None
    )
    painted = np.full((40, 60, 3), 200, np.uint8)
    save_image(tmp_path / "out.png", painted, alpha=alpha)
    with Image.open(tmp_path / "out.png") as image:
        assert image.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(image)[..., 3], alpha)
        np.testing.assert_array_equal(np.asarray(image)[..., :3], painted)
    # Resized with the picture where their sizes differ.
    save_image(tmp_path / "half.png", painted[::2, ::2], alpha=alpha)
    with Image.open(tmp_path / "half.png") as image:
        assert np.asarray(image)[:, :6, 3].max() == 0 and np.asarray(image)[:, 14:, 3].min() == 255
    # JPEG has no transparency: said, not silently dropped.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        save_image(tmp_path / "out.jpg", painted, alpha=alpha)
    assert any("transparent parts are painted opaque" in str(w.message) for w in caught)


def test_a_painting_of_a_transparent_photo_keeps_its_transparency(style_path, tmp_path):
    from conftest import TINY_CONTENT_LAYERS, TINY_STYLE_LAYERS

    from keras_nst import StyleTask, stylize

    rgba = np.zeros((48, 64, 4), np.uint8)
    rgba[..., :3] = np.random.default_rng(0).integers(0, 256, (48, 64, 3))
    rgba[..., 3] = 255
    rgba[:, :16, 3] = 0
    task = StyleTask(
        rgba,
        style_path,
        size=32,
        content_layers=TINY_CONTENT_LAYERS,
        style_layers=TINY_STYLE_LAYERS,
    )
    assert task.content_alpha.shape == (24, 32)
    stylize(task, output=tmp_path / "out.png", steps=1, weights="random", min_size=0, verbose=0)
    with Image.open(tmp_path / "out.png") as image:
        assert image.mode == "RGBA" and image.size == (32, 24)
        alpha = np.asarray(image)[..., 3]
    assert alpha[:, :5].max() == 0 and alpha[:, 12:].min() == 255
