"""Checkpoints that never lose a painting: the image, the optimizer state and the step.

A checkpoint is one `.npz` file (the frozen VGG-19 is left out: it is rebuilt from its
weights source), written to a temporary file and renamed, so a crash or a second Ctrl-C
mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import keras
import numpy as np
from keras import ops

from keras_nst import paths
from keras_nst.files import WriteError, atomic_write
from keras_nst.paths import CHECKPOINT_FILE as CHECKPOINT_NAME


def painting_identity(model) -> dict:
    """What a checkpoint must agree on with the model it is restored into: the task (its
    images' pixels and its settings, never its paths), the network's weights, the pooling
    and the precision."""
    from keras_nst.weights import describe_weights

    return {
        "task": model._built_task.fingerprint(),
        "weights": describe_weights(model.weights_source, model._built_task.seed),
        "pooling": model.pooling,
        "precision": model.precision,
        "padding": model.padding,
        "average": model.average,
    }


def _plain(value):
    return json.loads(json.dumps(value, default=str))


def save_checkpoint(
    model, directory: str | os.PathLike, *, epoch: int = 0, identity: dict | None = None
) -> Path:
    """Writes `model`'s image, optimizer state, step and settings to `directory` atomically.

    Args:
        model: a compiled `StyleTransferModel`.
        directory: where `checkpoint.npz` goes (created).
        epoch: epochs done, for `fit(initial_epoch=...)` on resume.
        identity: what a resumed run must share (default `painting_identity(model)`; a
            schedule adds its stages).

    Returns:
        The checkpoint file's path.

    Raises:
        ValueError: the image holds NaN or Inf (the last good checkpoint is kept).
        WriteError: the file could not be written (e.g. a full disk); the previous checkpoint
            is intact.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = model.state_arrays()
    if not all(np.all(np.isfinite(value)) for value in arrays.values()):
        raise ValueError("The image holds NaN or Inf; the last checkpoint was kept.")
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build([model.image])
    for index, variable in enumerate(optimizer.variables):
        arrays[f"optimizer_{index}"] = ops.convert_to_numpy(variable)
    metadata = {
        "step": int(ops.convert_to_numpy(optimizer.iterations)),
        "epoch": int(epoch),
        "optimizer": keras.saving.serialize_keras_object(optimizer),
        "optimizer_variables": [variable.path for variable in optimizer.variables],
        "model": _plain(identity or painting_identity(model)),
    }
    arrays["metadata"] = np.array(json.dumps(metadata, default=str))
    path = directory / CHECKPOINT_NAME
    with atomic_write(path, "the checkpoint") as handle:
        np.savez(handle, **arrays)
    return path


def _differences(saved, now, path: str = "") -> list[str]:
    """What differs between a checkpoint's identity and this painting's, in words: each
    setting with both values, an image by name ("the content image differs")."""
    if isinstance(saved, dict) and isinstance(now, dict):
        found = []
        for key in sorted(set(saved) | set(now), key=str):
            if saved.get(key) != now.get(key):
                found += _differences(saved.get(key), now.get(key), str(key))
        return found
    if isinstance(saved, list) and isinstance(now, list) and len(saved) == len(now):
        return [d for a, b in zip(saved, now) if a != b for d in _differences(a, b, path)]
    if path.startswith(("content", "style[")) and isinstance(saved, str):
        return [f"the {path} image differs"]
    return [f"{path or 'it'} was {saved!r}, now {now!r}"]


def remove_checkpoint(directory: str | os.PathLike) -> None:
    """Removes a finished painting's checkpoint file, and `directory` if that leaves it empty
    (anything else a user put there stays, and so does the directory)."""
    directory = Path(directory)
    with contextlib.suppress(FileNotFoundError):
        (directory / CHECKPOINT_NAME).unlink()
    with contextlib.suppress(OSError):
        directory.rmdir()


def read_checkpoint(directory: str | os.PathLike) -> tuple[dict, dict]:
    """The arrays and the metadata of the checkpoint in `directory`.

    Raises:
        ValueError: no checkpoint there, or an unreadable one.
    """
    path = Path(directory) / CHECKPOINT_NAME
    if not path.is_file():
        raise ValueError(
            f"`resume` directory holds no {CHECKPOINT_NAME}. Received: resume='{directory}'"
        )
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        metadata = json.loads(str(arrays.pop("metadata")))
    except Exception as error:
        raise ValueError(
            f"`resume` checkpoint could not be read ({type(error).__name__}: {error}). "
            f"Received: resume='{directory}'"
        ) from None
    return arrays, metadata


def restore_checkpoint(model, directory: str | os.PathLike, identity: dict | None = None) -> dict:
    """Loads a checkpoint's image and optimizer state into a compiled `model`.

    The model must paint the same task (the same pixels and settings, wherever the images
    are stored) with the same pooling and precision, at the size the checkpoint's image has,
    and be compiled with the same kind of optimizer.

    Returns:
        The checkpoint's metadata: `step` (optimizer steps done) and `epoch` (epochs done).

    Raises:
        ValueError: no or unreadable checkpoint, or one that does not fit `model`.
    """
    arrays, metadata = read_checkpoint(directory)
    expected = _plain(identity or painting_identity(model))
    if metadata["model"] != expected:
        differences = _differences(metadata["model"], expected)
        raise ValueError(
            f"`resume` checkpoint was written for another painting: {'; '.join(differences)}. "
            f"Received: resume='{directory}'"
        )
    shape = tuple(int(n) for n in ops.shape(model.image))
    if tuple(arrays["image"].shape) != shape:
        raise ValueError(
            f"`resume` checkpoint holds an image of shape {tuple(arrays['image'].shape)}; the "
            f"model paints {shape}. Received: resume='{directory}'"
        )
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build([model.image])
    stored = [arrays[f"optimizer_{i}"] for i in range(len(metadata["optimizer_variables"]))]
    shapes = [tuple(v.shape) for v in optimizer.variables]
    if type(optimizer).__name__ != metadata["optimizer"].get("class_name") or shapes != [
        a.shape for a in stored
    ]:
        raise ValueError(
            f"`resume` checkpoint holds the state of a {metadata['optimizer'].get('class_name')} "
            f"optimizer; the model is compiled with {type(optimizer).__name__}. "
            f"Received: resume='{directory}'"
        )
    if (model.image_average is not None) != ("average" in arrays):
        raise ValueError(
            "`resume` checkpoint was written with the image's running average "
            f"{'on' if 'average' in arrays else 'off'}; this painting has it "
            f"{'on' if model.image_average is not None else 'off'}. Received: resume='{directory}'"
        )
    model.assign_state_arrays(arrays)
    for variable, value in zip(optimizer.variables, stored):
        variable.assign(value)
    return metadata


class StyleCheckpoint(keras.callbacks.Callback):
    """Saves a checkpoint every `every` steps, at the end of each epoch and when `fit` ends.

    A checkpoint holds the image, the optimizer state (Adam's moments, L-BFGS' history), the
    step and the task's settings, not the frozen VGG-19. To continue a run:

    >>> checkpoint = StyleCheckpoint("runs/starry", every=50)
    >>> done = checkpoint.restore(model)           # {"step": ..., "epoch": ...}, or None
    >>> model.fit(task, epochs=10, steps_per_epoch=100,
    ...           initial_epoch=done["epoch"] if done else 0, callbacks=[checkpoint])

    A run resumed from an epoch-end checkpoint ends with the same bytes as one that was never
    interrupted (on CPU; the steps are deterministic).

    While `fit` runs, the directory is locked (`flock`): a second run given the same directory
    is refused instead of mixing its checkpoints with this one's. The kernel drops the lock
    when the process ends, however it ends. A checkpoint that cannot be written (a full disk)
    stops `fit` with a `WriteError` naming the step; the previous checkpoint stays intact.

    Args:
        directory: where `checkpoint.npz` is written.
        every: steps between checkpoints (`None`: only at epoch ends and at the end).
        identity: what a resumed run must share with the checkpoint (default
            `painting_identity(model)`).
    """

    def __init__(
        self, directory: str | os.PathLike, every: int | None = 100, identity: dict | None = None
    ):
        super().__init__()
        if every is not None and (
            isinstance(every, bool) or not isinstance(every, int) or every <= 0
        ):
            raise ValueError(
                f"`every` must be a positive integer or None. Received: every={every!r}"
            )
        self.directory = Path(directory)
        self.every = every
        self._epoch = 0
        self.last_saved_step = None
        self.identity = identity
        self._lock = contextlib.ExitStack()

    def restore(self, model) -> dict | None:
        """Restores the latest checkpoint into `model` (if there is one); returns its metadata."""
        if not (self.directory / CHECKPOINT_NAME).exists():
            return None
        metadata = restore_checkpoint(model, self.directory, self.identity)
        self._epoch = metadata["epoch"]
        return metadata

    def _save(self):
        step = int(ops.convert_to_numpy(self.model.optimizer.iterations))
        if step == self.last_saved_step:
            return
        try:
            save_checkpoint(self.model, self.directory, epoch=self._epoch, identity=self.identity)
            self.last_saved_step = step
        except ValueError:
            pass  # a non-finite image: keep the last good checkpoint
        except WriteError as error:
            kept = (
                f"the checkpoint of step {self.last_saved_step} is intact"
                if self.last_saved_step is not None
                else "no checkpoint of this run was written yet"
            )
            self.close()
            raise WriteError(f"the checkpoint of step {step}", error.path, error, kept) from None

    def on_train_begin(self, logs=None):
        self.close()
        self._lock.enter_context(paths.exclusive_directory(self.directory, "directory"))
        # Left by a run killed while it wrote (SIGKILL, power cut): never a checkpoint.
        for stale in self.directory.glob(f".{CHECKPOINT_NAME}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()

    def close(self):
        """Releases the directory (done when `fit` ends)."""
        self._lock.close()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = int(ops.convert_to_numpy(self.model.optimizer.iterations))
        if self.every and step % self.every == 0:
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        self._epoch = epoch + 1
        self._save()

    def on_train_end(self, logs=None):
        try:
            self._save()
        finally:
            self.close()
