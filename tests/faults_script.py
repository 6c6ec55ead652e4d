"""Runs the `keras-nst` command with a SIGKILL injected at a chosen moment (no handler runs).

Run as a subprocess by test_nothing_lost.py:

    python faults_script.py step N -- ARGV...        dies right after optimisation step N
    python faults_script.py checkpoint N -- ARGV...  dies halfway through writing checkpoint N
    python faults_script.py output N -- ARGV...      dies halfway through writing output image N
"""

import io
import os
import signal
import sys

import numpy as np
from PIL import Image

from keras_nst import cli
from keras_nst.checkpoints import StyleCheckpoint

point, target = sys.argv[1], int(sys.argv[2])
argv = sys.argv[sys.argv.index("--") + 1 :]
count = [0]


def die():
    os.kill(os.getpid(), signal.SIGKILL)


def write_half_then_die(handle, data: bytes):
    handle.write(data[: len(data) // 2])
    handle.flush()
    os.fsync(handle.fileno())
    die()


if point == "step":
    on_batch_end = StyleCheckpoint.on_train_batch_end

    def after_step(self, batch, logs=None):
        on_batch_end(self, batch, logs)
        if int(self.model.optimizer.iterations.numpy()) == target:
            die()

    StyleCheckpoint.on_train_batch_end = after_step
elif point == "checkpoint":
    savez = np.savez

    def dying_savez(handle, **arrays):
        count[0] += 1
        if count[0] == target:
            buffer = io.BytesIO()
            savez(buffer, **arrays)
            write_half_then_die(handle, buffer.getvalue())
        savez(handle, **arrays)

    np.savez = dying_savez
elif point == "output":
    save = Image.Image.save

    def dying_save(self, handle, *args, **kwargs):
        count[0] += 1
        if count[0] == target:
            buffer = io.BytesIO()
            save(self, buffer, *args, **kwargs)
            write_half_then_die(handle, buffer.getvalue())
        save(self, handle, *args, **kwargs)

    Image.Image.save = dying_save
else:
    raise SystemExit(f"unknown fault point {point!r}")

sys.exit(cli.main(argv))
