"""Convergence: loss against step and wall time, optimizer x pooling, and float32 vs bfloat16."""

from __future__ import annotations

import pytest
from common import LossCurve, make_model
from conftest import (
    CONVERGENCE_OPTIMIZERS,
    CONVERGENCE_SIZE,
    CONVERGENCE_STEPS,
    POOLINGS,
    PRECISION_SIZE,
    PRECISION_STEPS,
)


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("optimizer", CONVERGENCE_OPTIMIZERS)
def test_convergence(benchmark, optimizer, pooling):
    task, model = make_model(CONVERGENCE_SIZE, optimizer, pooling)
    curve = LossCurve()

    def paint():
        model.fit(task, epochs=1, steps_per_epoch=CONVERGENCE_STEPS, verbose=0, callbacks=[curve])

    benchmark.group = "convergence"
    benchmark.pedantic(paint, rounds=1, iterations=1)
    final = model.variant_losses()
    benchmark.extra_info.update(
        kind="convergence",
        optimizer=optimizer,
        pooling=pooling,
        size=CONVERGENCE_SIZE,
        steps=CONVERGENCE_STEPS,
        precision=model.precision,
        curve=curve.rows,  # [seconds, loss, content_loss, style_loss] per step
        final_loss=float(final["loss"][0]),
    )


def test_precision(benchmark):
    """float32 against mixed_bfloat16: time per step, and the final image judged in float32."""
    results = {}
    judge_task, judge = make_model(PRECISION_SIZE, precision="float32")
    for precision in ("float32", "mixed_bfloat16"):
        task, model = make_model(PRECISION_SIZE, precision=precision)
        model.fit(task, epochs=1, steps_per_epoch=2, verbose=0)  # warm up
        curve = LossCurve()
        model.fit(task, epochs=1, steps_per_epoch=PRECISION_STEPS, verbose=0, callbacks=[curve])
        seconds = [row[0] for row in curve.rows]
        per_step = (seconds[-1] - seconds[0]) / max(1, len(seconds) - 1)
        judge.image.assign(model.image.numpy())
        results[precision] = {
            "ms_per_step": 1000 * per_step,
            "own_loss": float(model.variant_losses()["loss"][0]),
            "float32_loss": float(judge.variant_losses()["loss"][0]),
        }
    benchmark.group = "precision"
    benchmark.extra_info.update(
        kind="precision", size=PRECISION_SIZE, steps=PRECISION_STEPS, results=results
    )
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
