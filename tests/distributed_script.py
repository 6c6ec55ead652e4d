"""Paints a tiny task under a distribution strategy and prints what it got, as JSON.

Run as a subprocess by test_distribute.py, since logical devices and multi-worker strategies
must be set up before TensorFlow initialises anything:

    python distributed_script.py compare OPTIMIZER NUM_VARIANTS OUT.npz
        one device, then MirroredStrategy on two logical CPUs, in one process; OPTIMIZER and
        NUM_VARIANTS may be comma-separated lists, run pairwise (one TensorFlow start-up)
    python distributed_script.py tiled OPTIMIZER NUM_VARIANTS OUT.npz
        the same, painted tile by tile (the replicas share each image's tiles)
    python distributed_script.py schedule OPTIMIZER NUM_VARIANTS OUT.npz
        the same through `stylize`, coarse to fine: a stage of L-BFGS at 24 px, then
        OPTIMIZER at 32 px
    python distributed_script.py video OPTIMIZER 1 OUT.npz
        three frames of the shipped clip through `stylize_video` (later frames reuse the
        compiled step, their variables assigned anew)
    TF_CONFIG=... python distributed_script.py multiworker OPTIMIZER NUM_VARIANTS OUT.npz
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402

mode, output = sys.argv[1], sys.argv[4]
cases = list(zip(sys.argv[2].split(","), [int(n) for n in sys.argv[3].split(",")]))
if mode == "multiworker":
    strategies = {"multiworker": tf.distribute.MultiWorkerMirroredStrategy()}
else:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategies = {
        "single": tf.distribute.get_strategy(),
        "mirrored": tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
    }

import numpy as np  # noqa: E402

from keras_nst import StyleTask, StyleTransferModel, stylize  # noqa: E402
from keras_nst.callbacks import StyleTensorBoard  # noqa: E402
from keras_nst.schedule import Schedule, Stage  # noqa: E402
from keras_nst.tiled_step import TiledStep, replica_share  # noqa: E402

examples = Path(__file__).resolve().parent.parent / "examples"
results, arrays = {}, {}
tile = 48 if mode == "tiled" else 0
#: Tiles each replica went through, per model (both passes of every step).
tiles_seen = {}
original_tiles = TiledStep._tiles


def counting_tiles(self, images, tiles):
    replica = replica_share()[0]
    counts = tiles_seen.setdefault(id(self), {})
    counts[replica] = counts.get(replica, 0) + len(tiles)
    return original_tiles(self, images, tiles)


TiledStep._tiles = counting_tiles
for optimizer, num_variants in cases:
    task = StyleTask(
        examples / "tubingen.jpg",
        examples / "starry_night.jpg",
        size=64 if tile else 32,
        content_layers={"block2_conv2": 1.0},
        style_layers={"block1_conv1": 0.5, "block2_conv1": 0.5},
        variants=[
            {"style_weight": 10.0 ** (2 + i), "init": "content+noise"}
            for i in range(num_variants - 1)
        ],
    )
    for name, strategy in strategies.items():
        key = f"{name}-{optimizer}-{num_variants}"
        if mode == "video":
            from keras_nst import video
            from keras_nst.video_painting import stylize_video

            frames = video.read_frames(examples / "clip.gif")[0][:3]
            painted = stylize_video(
                frames,
                examples / "starry_night.jpg",
                strategy=strategy,
                optimizer=optimizer,
                size=32,
                min_size=None,
                steps=3,
                frame_steps=3,
                weights=None,
                precision="float32",
                verbose=0,
                content_layers={"block2_conv2": 1.0},
                style_layers={"block1_conv1": 0.5, "block2_conv1": 0.5},
            )
            arrays[key] = np.stack(painted.frames)
            results[key] = {
                "replicas": strategy.num_replicas_in_sync,
                "losses": painted.frame_losses,
            }
            continue
        if mode == "schedule":
            painted = stylize(
                task,
                schedule=Schedule([Stage(24, 3, "lbfgs"), Stage(32, 3)]),
                strategy=strategy,
                optimizer=optimizer,
                weights=None,
                precision="float32",
                verbose=0,
                log_dir=Path(output).parent / f"logs-{key}",
                image_every=3,
            )
            arrays[key] = painted.model.image.numpy()
            results[key] = {
                "replicas": strategy.num_replicas_in_sync,
                "loss": painted.history.history["loss"],
                "optimizer": type(painted.model.optimizer).__name__,
                "steps": painted.steps,
            }
            continue
        with strategy.scope():
            # Every layer tiled on one device too (`tile_cut=None`), so that both share out
            # the same tiles.
            model = StyleTransferModel(
                task, weights=None, precision="float32", tile=tile, tile_cut=None
            )
            model.compile(optimizer=optimizer)
        # The TensorBoard callback runs on the host, whatever the strategy.
        callbacks = [StyleTensorBoard(Path(output).parent / f"logs-{key}", image_every=3)]
        history = model.fit(task, epochs=2, steps_per_epoch=3, verbose=0, callbacks=callbacks)
        arrays[key] = model.image.numpy()
        results[key] = {
            "replicas": strategy.num_replicas_in_sync,
            "loss": history.history["loss"],
            "variant_loss": model.variant_losses()["loss"].tolist(),
            "tiles": 0 if model.plan is None else len(model.plan.tiles),
            "tiles_seen": {
                str(k): v for k, v in sorted(tiles_seen.get(id(model.tiled), {}).items())
            },
        }
np.savez(output, **arrays)
print(json.dumps(results))
