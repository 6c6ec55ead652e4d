"""The keras.io example's way, as a baseline: targets recomputed inside every step.

Content, style and generated images go through VGG-19 as one batch of 3 each step (the style
image stretched to the content's size), then the same losses and the same Adam update.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from keras_nst import losses


def recomputing_step(model):
    """A `tf.function` doing one optimisation step the baseline's way, on `model`'s image."""
    task, extractor = model.task, model.extractor
    variant = task.variants[0]
    style = np.asarray(
        Image.fromarray(task.style_images[0]).resize((task.width, task.height)), "float32"
    )
    content = tf.constant(task.content_image[None].astype("float32"))
    style = tf.constant(style[None])
    optimizer = keras.optimizers.Adam(learning_rate=10.0)
    image = model.image

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            features = extractor(tf.concat([content, style, tf.convert_to_tensor(image)], axis=0))
            loss = 0.0
            for name, weight in variant.content_layers.items():
                f = features[name]
                loss += variant.content_weight * weight * losses.content_loss(f[2:], f[:1])[0]
            for name, weight in variant.style_layers.items():
                f = features[name]
                target = losses.gram_matrix(f[1:2])
                loss += variant.style_weight * weight * losses.style_loss(f[2:], target)[0]
        gradients = tape.gradient(loss, [image.value])
        optimizer.apply(gradients, [image])
        return loss

    return step
