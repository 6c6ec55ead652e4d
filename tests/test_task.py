"""StyleTask: defaults, validation, initial images and variants (no TensorFlow needed)."""

import numpy as np
import pytest

from keras_nst import StyleTask, load_image
from keras_nst.task import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, INIT_MODES


def test_defaults_are_gatys(content_path, style_path):
    task = StyleTask(content_path, style_path, size=64)
    variant = task.variants[0]
    assert variant.content_layers == {"block4_conv2": 1.0}
    assert variant.style_layers == {f"block{b}_conv1": 0.2 for b in range(1, 6)}
    # Calibrated losses by default (content 1, style 10); the paper's alpha/beta = 1e-3
    # with its own arithmetic is what the report's experiments use.
    assert (variant.content_weight, variant.style_weight, task.calibration) == (
        1.0,
        10.0,
        "normalized",
    )
    from keras_nst.experiments import PAPER_SETTINGS

    assert PAPER_SETTINGS["content_weight"] / PAPER_SETTINGS["style_weight"] == pytest.approx(1e-3)
    assert PAPER_SETTINGS["calibration"] == "gatys2015"
    assert variant.init == "content"
    assert (task.height, task.width) == (48, 64)
    assert DEFAULT_CONTENT_LAYERS and DEFAULT_STYLE_LAYERS


def test_style_images_use_style_size(content_path, style_path):
    task = StyleTask(content_path, [style_path, style_path], size=64, style_size=32)
    assert [image.shape[1] for image in task.style_images] == [32, 32]
    assert task.variants[0].style_blend == (0.5, 0.5)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"content_weight": -1.0}, r"`content_weight` must be a finite number >= 0.*-1.0"),
        ({"style_weight": float("nan")}, r"`style_weight` must be a finite number.*nan"),
        ({"style_weight": "big"}, r"`style_weight` must be a finite number"),
        ({"content_layers": {"block4_con2": 1.0}}, r"Did you mean 'block4_conv2'\?"),
        ({"style_layers": {"block1_conv1": -0.2}}, r"`style_layers\['block1_conv1'\]`.*>= 0"),
        ({"style_layers": "block1_conv1"}, r"`style_layers` must be a dict"),
        ({"init": "noize"}, r"`init` must be one of \('content', 'noise'"),
        ({"noise_ratio": 1.5}, r"`noise_ratio` must be in \[0, 1\]"),
        ({"size": 0}, r"`size` must be a positive integer"),
        ({"size": -8}, r"`size` must be a positive integer"),
        # Python takes numbers as numbers: text is the command line's, parsed there.
        ({"size": "64"}, r"`size` must be a positive integer or 'auto'. Received: size='64'"),
        ({"style_size": "64"}, r"`style_size` must be"),
        ({"seed": "3"}, r"`seed` must be an integer >= 0"),
        ({"seed": -1}, r"`seed` must be an integer >= 0"),
        ({"style_blend": [1.0, 2.0]}, r"`style_blend` must be a list of 1 weights"),
        ({"content_weight": 0.0, "style_weight": 0.0}, "nothing to optimise"),
        ({"size": 8}, r"layer 'block5_conv1' needs at least 16 pixels"),
        ({"variants": {"style_weight": 1.0}}, r"`variants` must be a list"),
        ({"variants": [{"style_wieght": 1.0}]}, r"Did you mean 'style_weight'\?"),
        ({"variants": [{"style_weight": -2}]}, r"`variants\[0\].style_weight` must be"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(content_path, style_path, kwargs, message):
    kwargs = {"size": 32, **kwargs}
    with pytest.raises(ValueError, match=message) as error:
        StyleTask(content_path, style_path, **kwargs)
    assert "Received:" in str(error.value)


def test_missing_style_image_is_named(content_path, tmp_path):
    with pytest.raises(ValueError, match=r"`style\[1\]` image file does not exist"):
        StyleTask(content_path, [content_path, tmp_path / "nope.jpg"], size=32)


def test_init_modes(content_path, style_path, tmp_path):
    variants = [{"init": mode} for mode in INIT_MODES[1:]] + [{"init": str(style_path)}]
    task = StyleTask(content_path, style_path, size=32, noise_ratio=0.25, seed=7, variants=variants)
    images = task.initial_images()
    assert images.shape == (5, 24, 32, 3) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 255
    content = load_image(content_path, 32).astype(np.float32)
    np.testing.assert_array_equal(images[0], content)
    noise = np.random.default_rng(7).uniform(0, 255, content.shape).astype(np.float32)
    np.testing.assert_array_equal(images[1], noise)
    np.testing.assert_allclose(images[2], 0.75 * content + 0.25 * noise, rtol=1e-6)
    # "style" and an image path both stretch the style image to the content's size.
    np.testing.assert_array_equal(images[3], images[4])
    assert not np.array_equal(images[3], images[0])


def test_noise_depends_on_the_seed_only(content_path, style_path):
    def noise(seed):
        return StyleTask(
            content_path, style_path, size=32, init="noise", seed=seed
        ).initial_images()

    np.testing.assert_array_equal(noise(3), noise(3))
    assert not np.array_equal(noise(3), noise(4))


def test_variants_override_and_union_layers(content_path, style_path):
    task = StyleTask(
        content_path,
        style_path,
        size=32,
        content_layers={"block2_conv2": 1.0},
        style_layers={"block1_conv1": 1.0},
        variants=[{"style_layers": ["block2_conv1", "block3_conv1"], "seed": 5}],
    )
    assert task.num_variants == 2
    assert task.variants[1].style_layers == {"block2_conv1": 0.5, "block3_conv1": 0.5}
    assert task.variants[1].seed == 5 and task.variants[1].content_weight == 1.0
    assert task.style_layer_names == ["block1_conv1", "block2_conv1", "block3_conv1"]
    config = task.get_config()
    assert config["variants"][0]["seed"] == 5 and config["style_layers"] == {"block1_conv1": 1.0}


@pytest.mark.parametrize("shape", [(1, 1, 3), (8, 300, 3)])
def test_tiny_source_images_are_refused(content_path, shape):
    with pytest.raises(ValueError, match=r"`style` image is \d+x\d+ pixels; it needs at least 16"):
        StyleTask(content_path, np.zeros(shape, np.uint8), size=64)


def test_public_names_resolve():
    import keras_nst

    for name in keras_nst.__all__:
        assert getattr(keras_nst, name) is not None
    assert keras_nst.optimizers.LBFGS and keras_nst.callbacks.StyleTensorBoard
