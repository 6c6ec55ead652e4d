"""Shared fixtures: tiny real images from `examples/`, and quiet TensorFlow."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

#: Shallow layers keep model tests fast: a 32 px image through two blocks of VGG-19.
TINY_CONTENT_LAYERS = {"block2_conv2": 1.0}
TINY_STYLE_LAYERS = {"block1_conv1": 0.5, "block2_conv1": 0.5}


@pytest.fixture(scope="session")
def content_path() -> Path:
    return EXAMPLES / "tubingen.jpg"


@pytest.fixture(scope="session")
def style_path() -> Path:
    return EXAMPLES / "starry_night.jpg"


@pytest.fixture(scope="session")
def second_style_path() -> Path:
    return EXAMPLES / "great_wave.jpg"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def tiny_task_kwargs() -> dict:
    return dict(size=32, content_layers=TINY_CONTENT_LAYERS, style_layers=TINY_STYLE_LAYERS)


def read_events(log_dir):
    """Every event of a TensorBoard run (size guidance 0 keeps them all)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    accumulator.Reload()
    return accumulator


def tensor_value(event):
    """The numpy value of a TF2 summary event (scalars and images are stored as tensors)."""
    import tensorflow as tf

    return tf.make_ndarray(event.tensor_proto)


def hparams_dashboard(log_dir):
    """What TensorBoard's HParams dashboard lists for `tensorboard --logdir log_dir`:
    `{session group: {metric tag: value}}`, computed by the plugin's own backend."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups
    from tensorboard.plugins.scalar import scalars_plugin

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(log_dir))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(log_dir))
    tb_context = base_plugin.TBContext(
        logdir=str(log_dir),
        multiplexer=multiplexer,
        data_provider=provider,
        plugin_name_to_instance={},
    )
    tb_context.plugin_name_to_instance["scalars"] = scalars_plugin.ScalarsPlugin(tb_context)
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0, slice_size=100, allowed_statuses=[api_pb2.STATUS_UNKNOWN]
    )
    response = list_session_groups.Handler(
        context.RequestContext(), backend_context.Context(tb_context), "", request
    ).run()
    return {
        group.name: {metric.name.tag: metric.value for metric in group.metric_values}
        for group in response.session_groups
    }


def stand_in_extractor(layers, channels: int = 8, seed: int = 0):
    """A tiny stand-in for VGG-19: for each requested layer, the image average-pooled as often
    as VGG-19 pools before that layer, then a fixed 1x1 convolution with a ReLU. Keyed by
    VGG-19's layer names, so any loss term reads it as it reads VGG-19; model-level tests
    run in milliseconds and stay exact."""
    import keras

    from keras_nst import vgg19

    rng = np.random.default_rng(seed)
    inputs = keras.Input(shape=(None, None, 3))
    scaled = keras.layers.Rescaling(1 / 255.0)(inputs)
    outputs = {}
    for name in sorted(set(layers), key=vgg19.layer_index):
        x = scaled
        for _ in range(vgg19.num_pools_before(name)):
            x = keras.layers.AveragePooling2D(2)(x)
        conv = keras.layers.Conv2D(channels, 1, activation="relu", name=f"stand_in_{name}")
        outputs[name] = conv(x)
        kernel = rng.normal(0.5, 0.5, size=(1, 1, 3, channels)).astype("float32")
        conv.set_weights([kernel, np.full(channels, 0.1, "float32")])
    model = keras.Model(inputs, outputs, name="stand_in_extractor")
    model.trainable = False
    return model


def record_optimizers():
    """A Keras callback whose `seen` lists the optimizer each step is taken with, as
    (class name, `start_step` or None)."""
    import keras

    class RecordOptimizers(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = []

        def on_train_batch_begin(self, batch, logs=None):
            optimizer = self.model.optimizer
            self.seen.append((type(optimizer).__name__, getattr(optimizer, "start_step", None)))

    return RecordOptimizers()
