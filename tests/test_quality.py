"""What makes a better painting: coarse to fine, the running average, calibrated losses, the
mean-and-covariance style loss, replicate padding and colour preservation.

Model-level checks use the 1x1-convolution stand-in extractor (conftest), against numpy.
"""

import keras
import numpy as np
import pytest
from conftest import TINY_CONTENT_LAYERS, TINY_STYLE_LAYERS, stand_in_extractor

from keras_nst import StyleTask, StyleTransferModel, colour, stylize
from keras_nst.canvas import resize
from keras_nst.extractor import vgg19_extractor
from keras_nst.schedule import Schedule

LAYERS = ["block1_conv1", "block2_conv1", "block2_conv2"]
FAST = dict(weights=None, precision="float32", verbose=0)


def _task(content, style, **kwargs):
    kwargs.setdefault("size", 32)
    kwargs.setdefault("init", "content+noise")
    return StyleTask(
        content, style, content_layers=TINY_CONTENT_LAYERS, style_layers=TINY_STYLE_LAYERS, **kwargs
    )


@pytest.fixture(scope="module")
def extractor():
    return stand_in_extractor(LAYERS)


def _scaled(extractor, factors):
    """The stand-in with each layer's output multiplied by `factors[layer]` (kernel and bias
    scaled: a ReLU network's features scale with them)."""
    copy = stand_in_extractor(LAYERS)
    for name, factor in factors.items():
        layer = copy.get_layer(f"stand_in_{name}")
        layer.set_weights(
            [w * factor for w in extractor.get_layer(f"stand_in_{name}").get_weights()]
        )
    return copy


# === The schedule ===


@pytest.mark.parametrize(
    "size, settings, sizes, steps",
    [
        (512, {}, [128, 181, 256, 362, 512], [100] * 5),
        (256, {"scale_steps": 30}, [128, 181, 256], [30, 30, 100]),
        (300, {"ratio": 2.0}, [150, 300], [100, 100]),
        (180, {}, [180], [100]),  # below min_size * ratio: one stage
        (512, {"min_size": None}, [512], [100]),
        (1000, {"min_size": 300, "ratio": 1.5}, [444, 667, 1000], [100] * 3),
    ],
)
def test_coarse_to_fine_sizes_and_steps(size, settings, sizes, steps):
    schedule = Schedule.coarse_to_fine(size, 100, **settings)
    assert [stage.size for stage in schedule.stages] == sizes
    assert [stage.steps for stage in schedule.stages] == steps
    assert schedule.stages[-1].size == size and min(sizes) >= (settings.get("min_size") or 0)


def test_stylize_paints_coarse_to_fine_by_default(content_path, style_path, extractor):
    task = _task(content_path, style_path, size=40)
    result = stylize(task, steps=3, scale_steps=2, min_size=20, extractor=extractor, **FAST)
    # 40 / sqrt(2) = 28.3 -> 28, 40 / 2 = 20: three scales, 2 + 2 + 3 steps.
    assert result.steps == 7 and result.images.shape == (1, 30, 40, 3)
    single = stylize(task, steps=3, min_size=0, extractor=extractor, **FAST)
    assert single.steps == 3


# === The running average ===


class RecordImages(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.images = []

    def on_train_batch_end(self, batch, logs=None):
        self.images.append(self.model.image.numpy().astype(np.float64))


def test_the_running_average_is_bias_corrected_ema_of_the_steps(
    content_path, style_path, extractor
):
    task = _task(content_path, style_path)
    model = StyleTransferModel(task, extractor=extractor, precision="float32", average=0.8)
    model.compile()
    record = RecordImages()
    model.fit(epochs=1, steps_per_epoch=4, callbacks=[record], verbose=0)
    average, weight = np.zeros_like(record.images[0]), 0.0
    for image in record.images:
        average = 0.8 * average + 0.2 * image
        weight = 0.8 * weight + 0.2
    expected = average / weight  # = sum 0.2 * 0.8^(n-i) x_i / (1 - 0.8^n)
    np.testing.assert_allclose(model.painted().numpy(), expected, rtol=1e-5, atol=1e-3)
    assert not np.allclose(expected, record.images[-1], atol=1e-2)  # it is not the last image
    np.testing.assert_array_equal(
        model.images()[0], np.clip(np.rint(expected[0]), 0, 255).astype(np.uint8)
    )


def test_the_next_stage_starts_from_the_average_and_restarts_it(
    content_path, style_path, extractor
):
    task = _task(content_path, style_path)
    model = StyleTransferModel(
        task.at_size(24), extractor=extractor, precision="float32", average=0.9
    )
    model.compile()
    model.fit(epochs=1, steps_per_epoch=3, verbose=0)
    average = model.painted().numpy()
    model.set_task(task)
    np.testing.assert_array_equal(model.image.numpy(), resize(average, (24, 32)).numpy())
    assert not model.image_average_weight.numpy().any()
    np.testing.assert_array_equal(model.painted().numpy(), model.image.numpy())


def test_a_kept_average_goes_on_and_restarts_per_pixel(content_path, style_path, extractor):
    task = _task(content_path, style_path).at_size(24)
    model = StyleTransferModel(task, extractor=extractor, precision="float32", average=0.9)
    model.compile()
    model.fit(epochs=1, steps_per_epoch=3, verbose=0)
    before = model.painted().numpy()
    weight = model.image_average_weight.numpy()
    np.testing.assert_allclose(weight, 1 - 0.9**3, rtol=1e-6)  # every pixel, 3 steps
    width = before.shape[2]
    keep = np.ones(before.shape[1:3], np.float32)
    keep[:, : width // 2] = 0.0  # the left half restarts
    start = np.full_like(before, 100.0)
    model.set_task(task, images=start, keep_average=keep)
    after = model.painted().numpy()
    np.testing.assert_allclose(after[:, :, width // 2 :], before[:, :, width // 2 :], rtol=1e-5)
    np.testing.assert_array_equal(after[:, :, : width // 2], start[:, :, : width // 2])
    model.fit(epochs=1, steps_per_epoch=1, verbose=0)
    image = model.image.numpy()
    expected_kept = (0.9 * before * (1 - 0.9**3) + 0.1 * image) / (0.9 * (1 - 0.9**3) + 0.1)
    np.testing.assert_allclose(
        model.painted().numpy()[:, :, width // 2 :], expected_kept[:, :, width // 2 :], rtol=1e-4
    )
    np.testing.assert_allclose(
        model.painted().numpy()[:, :, : width // 2], image[:, :, : width // 2], rtol=1e-5
    )
    with pytest.raises(
        ValueError,
        match=r"`keep_average` must be True or an array of shape \(\d+, \d+\) with values in \[0, 1\]\. Received: an array of shape \(\d+, \d+\) with values from 0.0 to 2.0",
    ):
        model.set_task(task, keep_average=keep * 2)
    painted = model.painted().numpy()
    with pytest.raises(ValueError, match=r"`keep_average` needs the canvas to keep its size"):
        model.set_task(_task(content_path, style_path).at_size(16), keep_average=True)
    # Refused before anything changed.
    assert model.task is task
    np.testing.assert_array_equal(model.painted().numpy(), painted)


# === Calibration ===


def _losses(task, extractor):
    return StyleTransferModel(task, extractor=extractor, precision="float32").variant_losses()


def test_normalized_losses_do_not_depend_on_the_scale_of_the_features(
    content_path, style_path, extractor
):
    """A ReLU network whose layers are rescaled (one set of weights against another) gives the
    same normalised losses, while the paper's change by the factor squared or to the fourth."""
    scaled = _scaled(extractor, {"block1_conv1": 30.0, "block2_conv1": 0.05, "block2_conv2": 7.0})
    normalized = _task(
        content_path, style_path, calibration="normalized", total_variation_weight=1.0
    )
    a, b = _losses(normalized, extractor), _losses(normalized, scaled)
    for key in (
        "content_loss",
        "style_loss/block1_conv1",
        "style_loss/block2_conv1",
        "total_variation_loss",
    ):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4)
    paper = _task(content_path, style_path, calibration="gatys2015")
    a, b = _losses(paper, extractor), _losses(paper, scaled)
    np.testing.assert_allclose(b["content_loss"] / a["content_loss"], 7.0**2, rtol=1e-3)
    np.testing.assert_allclose(
        b["style_loss/block1_conv1"] / a["style_loss/block1_conv1"], 30.0**4, rtol=1e-3
    )


def _features(extractor, image):
    return {
        k: np.asarray(v, np.float64)
        for k, v in extractor(np.asarray(image, np.float32)[None]).items()
    }


def test_normalized_losses_match_a_numpy_reference(content_path, style_path, extractor):
    task = _task(
        content_path, style_path, calibration="normalized", style_weight=3.0, content_weight=2.0
    )
    model = StyleTransferModel(task, extractor=extractor, precision="float32")
    losses = model.variant_losses()
    image = model.image.numpy()[0]
    f, p, s = (_features(extractor, x) for x in (image, task.content_image, task.style_images[0]))
    ((name, weight),) = TINY_CONTENT_LAYERS.items()
    content = 2.0 * weight * ((f[name] - p[name]) ** 2).sum() / (p[name] ** 2).sum()
    assert losses["content_loss"][0] == pytest.approx(content, rel=1e-4)
    for name, weight in TINY_STYLE_LAYERS.items():
        x, y = f[name].reshape(-1, f[name].shape[-1]), s[name].reshape(-1, s[name].shape[-1])
        gram, target = x.T @ x / len(x), y.T @ y / len(y)
        expected = 3.0 * weight * ((gram - target) ** 2).sum() / (target**2).sum()
        assert losses[f"style_loss/{name}"][0] == pytest.approx(expected, rel=1e-4)


# === Mean and covariance (Wasserstein-2) ===


def _sqrtm(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


@pytest.mark.parametrize("calibration", ["normalized", "gatys2015"])
def test_mean_covariance_loss_matches_a_numpy_reference(
    content_path, style_path, second_style_path, extractor, calibration
):
    task = StyleTask(
        content_path,
        [style_path, second_style_path],
        size=32,
        style_blend=[0.25, 0.75],
        content_layers=TINY_CONTENT_LAYERS,
        style_layers=TINY_STYLE_LAYERS,
        init="noise",
        style_loss="mean_cov",
        calibration=calibration,
        style_weight=5.0,
    )
    model = StyleTransferModel(task, extractor=extractor, precision="float32")
    losses = model.variant_losses()
    f = _features(extractor, model.image.numpy()[0])
    styles = [_features(extractor, image) for image in task.style_images]
    for name, weight in TINY_STYLE_LAYERS.items():
        x = f[name].reshape(-1, f[name].shape[-1])
        mean, cov = x.mean(0), np.cov(x, rowvar=False, bias=True)
        ys = [s[name].reshape(-1, x.shape[1]) for s in styles]
        target_mean = 0.25 * ys[0].mean(0) + 0.75 * ys[1].mean(0)
        second = 0.25 * ys[0].T @ ys[0] / len(ys[0]) + 0.75 * ys[1].T @ ys[1] / len(ys[1])
        target_cov = second - np.outer(target_mean, target_mean)
        root = _sqrtm(target_cov)
        # tr((S^1/2 C S^1/2)^1/2) with the documented regulariser: each eigenvalue l counts as
        # sqrt(l + delta) - sqrt(delta), delta = (1e-4 * tr(C_s) / N)^2.
        delta = (1e-4 * np.trace(target_cov) / len(target_cov)) ** 2
        values = np.clip(np.linalg.eigvalsh(root @ cov @ root), 0, None)
        trace_sqrt = (np.sqrt(values + delta) - np.sqrt(delta)).sum()
        w2 = (
            ((mean - target_mean) ** 2).sum()
            + np.trace(cov)
            + np.trace(target_cov)
            - 2 * trace_sqrt
        )
        if calibration == "normalized":
            w2 /= (target_mean**2).sum() + np.trace(target_cov)
        assert losses[f"style_loss/{name}"][0] == pytest.approx(5.0 * weight * w2, rel=2e-3)


def test_mean_covariance_loss_is_zero_on_the_style_itself(style_path, extractor):
    task = StyleTask(
        style_path,
        style_path,
        size=32,
        style_size=32,
        content_layers=TINY_CONTENT_LAYERS,
        style_layers=TINY_STYLE_LAYERS,
        init="content",
        style_loss="mean_cov",
    )
    losses = StyleTransferModel(task, extractor=extractor, precision="float32").variant_losses()
    noise = StyleTask(
        style_path,
        style_path,
        size=32,
        style_size=32,
        content_layers=TINY_CONTENT_LAYERS,
        style_layers=TINY_STYLE_LAYERS,
        init="noise",
        style_loss="mean_cov",
    )
    away = StyleTransferModel(noise, extractor=extractor, precision="float32").variant_losses()
    assert abs(losses["style_loss"][0]) < 1e-3 * away["style_loss"][0]


def test_paintings_with_the_mean_covariance_loss_lower_it(content_path, style_path, extractor):
    task = _task(content_path, style_path, style_loss="mean_cov", content_weight=0.0, init="noise")
    result = stylize(
        task,
        steps=8,
        min_size=0,
        average=0.0,
        optimizer="adam",
        learning_rate=5.0,
        extractor=extractor,
        **FAST,
    )
    history = result.history.history
    first = StyleTransferModel(task, extractor=extractor, precision="float32").variant_losses()[
        "style_loss"
    ][0]
    assert history["style_loss"][-1] < 0.5 * first
    assert set(history) >= {f"style_loss/{name}" for name in TINY_STYLE_LAYERS}


# === Borders ===


def test_replicate_padding_repeats_the_edge_pixels():
    rng = np.random.default_rng(3)
    image = rng.uniform(0, 255, (1, 9, 11, 3)).astype("float32")
    zeros = vgg19_extractor(["block1_conv1"], weights=None, padding="zeros", dtype="float32")
    replicate = vgg19_extractor(
        ["block1_conv1"], weights=None, padding="replicate", dtype="float32"
    )
    padded = np.pad(image, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="edge")
    # The zero-padded network on the edge-padded image, cropped, is the replicate-padded one.
    expected = zeros(padded)["block1_conv1"].numpy()[:, 1:-1, 1:-1]
    np.testing.assert_allclose(
        replicate(image)["block1_conv1"].numpy(), expected, rtol=1e-5, atol=1e-4
    )
    assert not np.allclose(zeros(image)["block1_conv1"].numpy()[:, 0], expected[:, 0], atol=1e-2)


def test_padding_is_checked():
    with pytest.raises(
        ValueError, match=r"`padding` must be one of zeros, replicate. Received: padding='reflect'"
    ):
        vgg19_extractor(["block1_conv1"], weights=None, padding="reflect")


# === Colour ===


def _yiq_chroma(rgb):
    rgb = np.asarray(rgb, np.float64)
    i = 0.596 * rgb[..., 0] - 0.274 * rgb[..., 1] - 0.322 * rgb[..., 2]
    q = 0.211 * rgb[..., 0] - 0.523 * rgb[..., 1] + 0.312 * rgb[..., 2]
    return np.stack([i, q], -1)


def test_luminance_mode_keeps_the_photos_chroma(content_path, style_path, extractor):
    task = _task(content_path, style_path, preserve_color="luminance", init="noise")
    result = stylize(task, steps=4, min_size=0, extractor=extractor, **FAST)
    content = task.content_image.astype(np.float64)
    painted = result.images[0].astype(np.float64)
    assert not np.allclose(
        colour.luminance(painted), colour.luminance(content), atol=2
    )  # it painted
    # Away from clipping, the chroma is the photo's (up to 8-bit rounding).
    shift = colour.luminance(painted) - colour.luminance(content)
    inside = np.all((content + shift[..., None] > 1) & (content + shift[..., None] < 254), axis=-1)
    assert inside.mean() > 0.5
    np.testing.assert_allclose(_yiq_chroma(painted)[inside], _yiq_chroma(content)[inside], atol=1.0)


def test_luminance_mode_shows_the_network_grey_images(content_path, style_path):
    task = _task(content_path, style_path, preserve_color="luminance")
    style = task.style_images[0].astype(np.float64)
    assert np.array_equal(style[..., 0], style[..., 1]) and np.array_equal(
        style[..., 1], style[..., 2]
    )
    y_content = colour.luminance(task.content_image)
    assert style[..., 0].mean() == pytest.approx(y_content.mean(), abs=1.0)
    assert style[..., 0].std() == pytest.approx(y_content.std(), rel=0.05)


def test_histogram_mode_gives_the_style_the_photos_colour_statistics(content_path, style_path):
    task = _task(content_path, style_path, preserve_color="histogram")
    plain = _task(content_path, style_path)
    style = task.style_images[0].reshape(-1, 3).astype(np.float64)
    content = task.content_image.reshape(-1, 3).astype(np.float64)
    np.testing.assert_allclose(style.mean(0), content.mean(0), atol=2.0)
    np.testing.assert_allclose(
        np.cov(style, rowvar=False), np.cov(content, rowvar=False), rtol=0.1, atol=20
    )
    assert not np.allclose(plain.style_images[0].reshape(-1, 3).mean(0), content.mean(0), atol=5)


@pytest.mark.parametrize(
    "settings, message",
    [
        (
            {"preserve_color": "hue"},
            r"`preserve_color` must be one of None, luminance, histogram. Received: preserve_color='hue'",
        ),
        (
            {"style_loss": "swd"},
            r"`style_loss` must be one of gram, mean_cov. Received: style_loss='swd'",
        ),
        ({"calibration": "imagenet"}, r"`calibration` must be one of normalized, gatys2015"),
    ],
)
def test_bad_quality_settings_are_named(content_path, style_path, settings, message):
    with pytest.raises(ValueError, match=message):
        _task(content_path, style_path, **settings)
