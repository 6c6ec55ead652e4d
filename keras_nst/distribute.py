"""How a painting's work is shared among `tf.distribute` replicas.

The unit of work is a row of the image variable (a variant). `fit`'s data are the row indices,
padded with -1 to a multiple of the replicas and dealt round-robin, so each replica computes
the losses and gradient of its own rows; Keras sums the replicas' gradients, which is the
gradient of the summed loss. A replica with no rows does no work, and every replica reports
the totals over all replicas. A painting tiled tile by tile shares its tiles instead: every
replica takes every row and its share of the tiles (see `keras_nst.tiled_step`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import ops

#: The index that pads the last batch of rows; no row has it.
NO_ROW = -1


def row_dataset(num_rows: int, num_replicas: int) -> tf.data.Dataset:
    """`fit`'s data: every row index once per step, dealt round-robin to the replicas.

    Replica r gets rows r, r + R, ..., so idle slots (padding) fall on the last replicas.
    """
    per_replica = -(-num_rows // num_replicas)
    indices = np.full(per_replica * num_replicas, NO_ROW, "int32")
    indices[:num_rows] = np.arange(num_rows)
    indices = indices.reshape(per_replica, num_replicas).T.reshape(-1)
    dataset = tf.data.Dataset.from_tensor_slices(indices)
    dataset = dataset.batch(len(indices), drop_remainder=True).repeat()
    # tf.data's autotuner has nothing to tune in a few indices, and its background thread
    # sleeps in periods that double (10 ms, 20 ms, ... up to a minute): a `fit` that followed
    # another waited for the last one's period to run out (1.4 s of steps took 2.55 s, a
    # 7.5 s tiled step 10.23 s), which every sweep, benchmark and fit-in-a-loop paid.
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def local_rows(data, num_rows: int, num_replicas: int):
    """This replica's row indices (its share of a batch of `row_dataset` of `num_rows` rows
    among `num_replicas`), padding removed.

    Where the replica's number is known when the step is traced (one device, mirrored and
    multi-worker strategies), so is its number of rows: the padding is sliced off and the
    graph sees a fixed batch size. A step whose images have a batch size unknown to
    TensorFlow held more at once (VGG-19 at 1024 x 768 px on a CPU: 2.9 GiB at its peak,
    against 2.3 GiB with the batch size known).
    """
    indices = ops.reshape(data, (-1,))
    replica = _static_replica_id(num_replicas)
    if replica is not None:
        # Replica r was dealt rows r, r + R, ... and padding after them.
        return indices[: len(range(replica, num_rows, num_replicas))]
    return tf.boolean_mask(indices, indices >= 0)


def _static_replica_id(num_replicas: int) -> int | None:
    """This replica's number if the graph being traced knows it, else `None`."""
    if num_replicas == 1:
        return 0
    context = tf.distribute.get_replica_context()
    if context is None:
        return None
    replica = tf.get_static_value(context.replica_id_in_sync_group)
    return None if replica is None else int(replica)


def unless_idle(rows, compute, keys):
    """`compute()` if this replica has rows, else empty `(0,)` results under `keys`.

    (An empty batch cannot go through the extractor: oneDNN rejects a convolution on it.)
    """

    def idle():
        return {key: tf.zeros((0,), "float32") for key in keys}

    if rows.shape[0] is not None:  # known when traced: no branch in the graph
        return compute() if rows.shape[0] > 0 else idle()
    return tf.cond(tf.size(rows) > 0, compute, idle)


def _multi_worker(strategy) -> bool:
    in_multi_worker_mode = getattr(strategy.extended, "_in_multi_worker_mode", None)
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and bool(
        in_multi_worker_mode and in_multi_worker_mode()
    )


def total_logs(logs: dict, strategy) -> dict:
    """Each replica's sums made the totals over all replicas, in the shape Keras reduces.

    Every replica reports the same totals (Keras then averages identical values). Under a
    multi-worker strategy Keras reduces logs with `strategy.reduce(MEAN, v, axis=0)`, which
    needs a batch axis: each scalar gets one.
    """
    context = tf.distribute.get_replica_context()
    if context is not None and context.num_replicas_in_sync > 1:
        logs = context.all_reduce(tf.distribute.ReduceOp.SUM, logs)
    if _multi_worker(strategy):
        logs = {key: ops.reshape(value, (1,)) for key, value in logs.items()}
    return logs
