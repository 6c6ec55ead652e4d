"""The benchmark suite and its report, shrunk to seconds (`KERAS_NST_BENCH_SMOKE=1`)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# A subprocess running every benchmark: `make bench-smoke` (and CI, after `make test`) runs it.
pytestmark = [pytest.mark.slow, pytest.mark.benchmarks]

REPO = Path(__file__).resolve().parent.parent


def test_benchmark_suite_and_report_run(tmp_path):
    results = tmp_path / "benchmark.json"
    # Under `pytest -n` this test runs in an xdist worker: its variables would make the inner
    # pytest-benchmark believe it is distributed too, and disable itself.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(KERAS_NST_BENCH_SMOKE="1", PYTHONPATH=str(REPO))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(REPO / "benchmarks"),
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "--benchmark-enable",
            "--benchmark-only",
            f"--benchmark-json={results}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    data = json.loads(results.read_text())
    kinds = {b["extra_info"]["kind"] for b in data["benchmarks"]}
    assert kinds == {
        "step",
        "step_weights",
        "baseline",
        "matmul",
        "memory",
        "convergence",
        "precision",
        "quality",
        "time_to_quality",
        "tiles",
        "video",
    }
    # A smoke run's pictures go to its working directory, not over the repository's results,
    # one folder per kind of weights the painters optimised.
    painted = {p.parent.name for p in (tmp_path / "results" / "quality").glob("*/*.png")}
    assert "random" in painted and painted <= {"random", "pretrained"}
    assert sorted(p.name for p in (tmp_path / "results" / "quality" / "random").glob("*.png")) == [
        "tubingen-starry_night.png",
        "tubingen-starry_night_crowsonkb.png",
        "tubingen-starry_night_keras-nst.png",
        "tubingen-starry_night_keras-nst_w2-strong.png",
        "tubingen-starry_night_keras-nst_w2.png",
        "tubingen-starry_night_tutorial.png",
    ]
    steps = [b for b in data["benchmarks"] if b["extra_info"]["kind"] == "step"]
    assert {(b["extra_info"]["optimizer"], b["extra_info"]["pooling"]) for b in steps} == {
        (o, "avg") for o in ("adam", "lbfgs")
    }
    report = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "report.py"), str(results)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    summary = (tmp_path / "summary.md").read_text()
    assert "| adam | avg | 32 |" in summary and "float32 against mixed_bfloat16" in summary
    for table in (
        "## Pictures at equal wall time",
        "## Time to quality",
        "## Tiled against untiled",
        "## Video: flicker",
    ):
        assert table in summary
