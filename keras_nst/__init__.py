"""keras-nst: neural style transfer (Gatys, Ecker and Bethge) as a Keras 3 model.

Importing `keras_nst` is cheap: TensorFlow loads when a model, extractor or loss is first used.
"""

from __future__ import annotations

import importlib

from keras_nst.images import load_image, save_image
from keras_nst.task import StyleTask
from keras_nst.weights import WeightsUnavailableError

__version__ = "0.1.0"

__all__ = [
    "Painting",
    "StyleTask",
    "StyleTransferModel",
    "WeightsUnavailableError",
    "callbacks",
    "checkpoints",
    "experiments",
    "load_image",
    "losses",
    "optimizers",
    "presets",
    "save_image",
    "schedule",
    "settings",
    "stylize",
    "stylize_video",
    "terms",
    "video",
    "VideoPainting",
    "vgg19_extractor",
    "__version__",
]

_LAZY = {
    "Painting": ("keras_nst.painting", "Painting"),
    "stylize": ("keras_nst.painting", "stylize"),
    "schedule": ("keras_nst.schedule", None),
    "settings": ("keras_nst.settings", None),
    "presets": ("keras_nst.presets", None),
    "terms": ("keras_nst.terms", None),
    "StyleTransferModel": ("keras_nst.model", "StyleTransferModel"),
    "vgg19_extractor": ("keras_nst.extractor", "vgg19_extractor"),
    "losses": ("keras_nst.losses", None),
    "optimizers": ("keras_nst.optimizers", None),
    "callbacks": ("keras_nst.callbacks", None),
    "checkpoints": ("keras_nst.checkpoints", None),
    "experiments": ("keras_nst.experiments", None),
    "stylize_video": ("keras_nst.video_painting", "stylize_video"),
    "VideoPainting": ("keras_nst.video_painting", "VideoPainting"),
    "video": ("keras_nst.video", None),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'keras_nst' has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    module = importlib.import_module(module_name)
    return module if attribute is None else getattr(module, attribute)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
