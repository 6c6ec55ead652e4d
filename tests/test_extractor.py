"""The VGG-19 extractor: pooling swap, truncation, preprocessing, frozen weights, weight files."""

import socket
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from keras_nst import WeightsUnavailableError, vgg19_extractor
from keras_nst.weights import CONV_LAYERS, conv_weights, save_matconvnet, vgg19_base


@pytest.fixture(scope="module")
def random_base():
    return vgg19_base(weights=None, seed=3)


def _layer_types(model):
    return {type(layer).__name__ for layer in model.layers}


def test_average_pooling_replaces_max_pooling():
    extractor = vgg19_extractor(["block3_conv1"], pooling="avg", weights=None)
    types = _layer_types(extractor)
    assert "MaxPooling2D" not in types and "AveragePooling2D" in types
    pools = [layer for layer in extractor.layers if layer.name.endswith("_pool")]
    assert [(p.pool_size, p.strides) for p in pools] == [((2, 2), (2, 2))] * 2
    assert "AveragePooling2D" not in _layer_types(
        vgg19_extractor(["block3_conv1"], pooling="max", weights=None)
    )


def test_cut_after_deepest_layer_and_frozen():
    extractor = vgg19_extractor(["block2_conv1", "block1_conv2"], weights=None)
    assert extractor.layers[-1].name == "block2_conv1"
    assert extractor.trainable_weights == []
    outputs = extractor(np.zeros((2, 20, 24, 3), "float32"))
    assert sorted(outputs) == ["block1_conv2", "block2_conv1"]
    assert tuple(outputs["block2_conv1"].shape) == (2, 10, 12, 128)


def test_features_match_keras_preprocessing_and_vgg19(random_base, rng):
    images = rng.uniform(0, 255, size=(2, 16, 16, 3)).astype("float32")
    extractor = vgg19_extractor(["block1_conv2"], pooling="max", weights=None, seed=3)
    reference = keras.Model(random_base.input, random_base.get_layer("block1_conv2").output)
    expected = reference(keras.applications.vgg19.preprocess_input(images.copy()))
    np.testing.assert_allclose(extractor(images)["block1_conv2"], expected, rtol=1e-4, atol=1e-3)


def test_random_weights_are_seeded_he_normal():
    first = conv_weights(vgg19_base(weights=None, seed=11))
    again = conv_weights(vgg19_base(weights=None, seed=11))
    other = conv_weights(vgg19_base(weights=None, seed=12))
    for name in CONV_LAYERS:
        np.testing.assert_array_equal(first[name][0], again[name][0])
        assert not np.array_equal(first[name][0], other[name][0])
    kernel, bias = first["block3_conv2"]
    fan_in = 3 * 3 * 256
    assert kernel.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.01)
    assert abs(kernel.mean()) < 1e-3 and not bias.any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layers": ["block4_conv5"]}, r"Did you mean 'block4_conv4'\?"),
        ({"layers": []}, r"`layers` must name at least one"),
        (
            {"layers": ["block1_conv1"], "pooling": "min"},
            r"`pooling` must be one of \('avg', 'max'\)",
        ),
        (
            {"layers": ["block1_conv1"], "weights": "vgg.npz"},
            r"`weights` must be one of imagenet, vgg16-hed, random or a VGG-19 weight file",
        ),
        ({"layers": ["block1_conv1"], "weights": "missing.h5"}, r"`weights` file does not exist"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        vgg19_extractor(**kwargs)


def test_keras_weights_file_round_trips(random_base, tmp_path):
    path = tmp_path / "vgg19_notop.weights.h5"
    random_base.save_weights(path)
    loaded = conv_weights(vgg19_base(weights=path))
    for name, (kernel, bias) in conv_weights(random_base).items():
        np.testing.assert_array_equal(loaded[name][0], kernel)
        np.testing.assert_array_equal(loaded[name][1], bias)


def _write_legacy_h5(path, weights, extra_layers=()):
    """Keras 2's layout, as in Keras' downloadable vgg19_weights_*.h5 files."""
    with h5py.File(path, "w") as f:
        names = list(weights) + [name for name, _ in extra_layers]
        f.attrs["layer_names"] = [n.encode() for n in names]
        for name, values in list(weights.items()) + list(extra_layers):
            group = f.create_group(name)
            weight_names = [f"{name}/kernel:0", f"{name}/bias:0"][: len(values)]
            group.attrs["weight_names"] = [w.encode() for w in weight_names]
            for weight_name, value in zip(weight_names, values):
                group.create_dataset(weight_name, data=value)


@pytest.mark.parametrize("with_classifier", [False, True])
def test_legacy_h5_file_loads_by_layer_name(random_base, tmp_path, with_classifier):
    weights = conv_weights(random_base)
    extra = (
        [("fc1", (np.ones((8, 4), "float32"), np.zeros(4, "float32")))] if with_classifier else []
    )
    path = tmp_path / "vgg19.h5"
    _write_legacy_h5(path, weights, extra)
    loaded = conv_weights(vgg19_base(weights=path))
    for name, (kernel, _) in weights.items():
        np.testing.assert_array_equal(loaded[name][0], kernel)


def test_incomplete_legacy_file_is_refused(random_base, tmp_path):
    weights = dict(list(conv_weights(random_base).items())[:4])
    path = tmp_path / "partial.h5"
    _write_legacy_h5(path, weights)
    with pytest.raises(ValueError, match=r"no weights for VGG-19 layers \['block3_conv1'"):
        vgg19_base(weights=path)


def test_matconvnet_file_round_trips(random_base, tmp_path):
    weights = conv_weights(random_base)
    path = tmp_path / "imagenet-vgg-verydeep-19.mat"
    save_matconvnet(path, weights)
    loaded = conv_weights(vgg19_base(weights=path))
    for name, (kernel, bias) in weights.items():
        np.testing.assert_array_equal(loaded[name][0], kernel)
        np.testing.assert_array_equal(loaded[name][1], bias)


def test_matconvnet_layout_is_rgb_and_width_first(random_base, tmp_path):
    # An independent check of the layout: MatConvNet's first kernel reads RGB, width first.
    import scipy.io

    weights = conv_weights(random_base)
    path = tmp_path / "vgg.mat"
    save_matconvnet(path, weights)
    stored = scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False)["layers"][0]
    kernel = stored.weights[0]
    np.testing.assert_array_equal(
        kernel, np.transpose(weights["block1_conv1"][0][:, :, ::-1, :], (1, 0, 2, 3))
    )


@pytest.mark.parametrize("name", ["corrupt.h5", "corrupt.weights.h5", "corrupt.mat"])
def test_corrupt_weight_files_raise_value_errors(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ValueError, match=rf"`weights`.*{name}"):
        vgg19_base(weights=path)


def test_imagenet_fails_fast_offline_with_alternatives(monkeypatch):
    cached = Path(keras.config.keras_home() if hasattr(keras.config, "keras_home") else "~/.keras")
    if (
        cached.expanduser() / "models" / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ).exists():
        pytest.skip("ImageNet weights are cached on this machine")

    def offline(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    with pytest.raises(
        WeightsUnavailableError, match="Could not fetch the VGG-19 ImageNet"
    ) as error:
        vgg19_extractor(["block1_conv1"], weights="imagenet")
    assert "weights=None" in str(error.value) and ".mat" in str(error.value)
