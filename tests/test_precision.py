"""Precision: bfloat16 where native, float32 on request, losses always float32."""

import numpy as np
import pytest
from conftest import TINY_CONTENT_LAYERS, TINY_STYLE_LAYERS

from keras_nst import StyleTask, StyleTransferModel, vgg19_extractor
from keras_nst import precision as precision_lib


@pytest.fixture
def cpu_flags(monkeypatch):
    def set_flags(flags):
        monkeypatch.setattr(precision_lib, "_cpu_flags", lambda: set(flags))
        precision_lib.native_bfloat16.cache_clear()

    yield set_flags
    precision_lib.native_bfloat16.cache_clear()


@pytest.mark.parametrize(
    "flags, expected",
    [
        ({"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}, "mixed_bfloat16"),
        ({"amx_bf16"}, "mixed_bfloat16"),
        ({"avx512f", "avx512_bf16"}, "float32"),  # measured slower than float32 without AMX
        ({"avx2", "avx512f"}, "float32"),
    ],
)
def test_auto_picks_bfloat16_only_where_native(cpu_flags, flags, expected):
    cpu_flags(flags)
    assert precision_lib.resolve_precision("auto") == expected
    assert precision_lib.resolve_precision("float32") == "float32"


def test_bad_precision_is_named():
    with pytest.raises(ValueError, match=r"`precision` must be one of \('auto', 'float32', "):
        precision_lib.resolve_precision("fp8")


def test_bfloat16_extractor_is_close_to_float32(rng):
    images = rng.uniform(0, 255, size=(1, 32, 32, 3)).astype("float32")
    layers = ["block1_conv1", "block3_conv1"]
    exact = vgg19_extractor(layers, weights=None, dtype="float32")(images)
    low = vgg19_extractor(layers, weights=None, dtype="mixed_bfloat16")
    conv = low.get_layer("block3_conv1")
    assert conv.compute_dtype == "bfloat16" and conv.kernel.dtype == "float32"
    for name in layers:
        a, b = np.asarray(exact[name]), np.asarray(low(images)[name], "float32")
        assert np.abs(a - b).mean() < 0.02 * np.abs(a).mean()


def test_model_losses_agree_across_precisions(content_path, style_path):
    task = StyleTask(
        content_path,
        style_path,
        size=32,
        content_layers=TINY_CONTENT_LAYERS,
        style_layers=TINY_STYLE_LAYERS,
        init="content+noise",
    )
    losses = {}
    for precision in ("float32", "mixed_bfloat16"):
        model = StyleTransferModel(task, weights=None, precision=precision)
        assert model.precision == precision and model.image.dtype == "float32"
        values = model.variant_losses()
        assert all(v.dtype == np.float32 for v in values.values())
        losses[precision] = values["loss"][0]
    assert losses["mixed_bfloat16"] == pytest.approx(losses["float32"], rel=0.03)
