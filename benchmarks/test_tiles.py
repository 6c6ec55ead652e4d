"""Tiled painting: peak memory and time per step against size, tiled and untiled.

Each case runs in a fresh process (peak memory is the process's `VmHWM`): it builds the model
`keras_nst.stylize` would for the shipped photo at `size` under a memory cap (the tile size
comes from the memory estimate), takes one step to trace, then reports the median of `STEPS`
timed steps.
`KERAS_NST_BENCH_LARGE=1` adds 4096 px (several minutes per step on 2 CPU cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import CONTENT, HERE, SMOKE, STYLE

LARGE = os.environ.get("KERAS_NST_BENCH_LARGE") == "1"
STEPS = 1 if SMOKE else 3
#: The smoke run tiles a small image: shallow layers keep the halo (and the tiles) small.
TASK_SETTINGS = (
    dict(style_layers=[f"block{b}_conv1" for b in (1, 2, 3)], content_layers=["block2_conv2"])
    if SMOKE
    else {}
)
SQUARE = CONTENT.parent / "astronaut.jpg"
#: (size, tile: 0 untiled / None from the cap, cap in GiB or None, photo, tile_cut): the
#: shipped 4:3 photo, and a square one for 4096 x 4096. Each cap is painted as `stylize`
#: would (`tile_cut="auto"`: only the first layers tiled where that fits and costs less) and
#: with every layer tiled (`None`).
CASES = (
    [(96, 64, None, CONTENT, "auto")]
    if SMOKE
    else [
        case
        for size, cap in ((512, 1.2), (1024, 2.5), (2048, 8.0))
        for case in (
            (size, 0, None, CONTENT, "auto"),
            (size, None, cap, CONTENT, "auto"),
            (size, None, cap, CONTENT, None),
        )
    ]
)
if LARGE:
    CASES += [(4096, None, 18.0, SQUARE, "auto"), (4096, None, 18.0, SQUARE, None)]

PROBE = """
import json, sys, time
sys.path.insert(0, {here!r})
from keras_nst import StyleTask
from keras_nst.painting import build_model
task = StyleTask({content!r}, {style!r}, size={size}, **{task_settings!r})
settings = dict(weights=None, precision={precision!r}, tile={tile!r}, tile_cut={tile_cut!r})
if {cap!r}:
    settings["max_memory"] = int({cap!r} * 2**30)
model = build_model(task, **settings)
model.fit(task, epochs=1, steps_per_epoch=1, verbose=0)
times = []
for _ in range({steps}):  # the median step: a rare stall of one step does not count
    start = time.perf_counter()
    model.fit(task, epochs=1, steps_per_epoch=1, verbose=0)
    times.append(time.perf_counter() - start)
seconds = sorted(times)[len(times) // 2]
with open("/proc/self/status") as status:
    peak = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
tiles = 1 if model.plan is None else len(model.plan.tiles)
split = model.split and [model.split[0], len(model.split[1].tiles)]
print(json.dumps({{"seconds_per_step": seconds, "peak_kib": peak, "tiles": tiles, "tile": model.tile,
                  "shape": [task.height, task.width], "kept": model.tiled.keeping, "split": split}}))
"""


def _id(size, tile, cut):
    return f"{size}-" + (
        "untiled" if tile == 0 else "tiled" if cut == "auto" else "every-layer-tiled"
    )


@pytest.mark.parametrize(
    "size, tile, cap, content, tile_cut", CASES, ids=[_id(s, t, c) for s, t, _, _, c in CASES]
)
def test_tiled_step(benchmark, size, tile, cap, content, tile_cut):
    precision = "float32"
    code = PROBE.format(
        here=str(HERE),
        content=str(content),
        style=str(STYLE),
        size=size,
        tile_cut=tile_cut,
        precision=precision,
        tile=tile,
        cap=cap,
        steps=STEPS,
        task_settings=TASK_SETTINGS,
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def probe():
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env
        )
        if result.returncode:
            return {"error": result.stderr.strip().splitlines()[-1]}
        return json.loads(result.stdout.strip().splitlines()[-1])

    result = benchmark.pedantic(probe, rounds=1, iterations=1)
    benchmark.group = "tiles"
    if "error" in result:
        pytest.skip(f"{size} px {'untiled' if tile == 0 else 'tiled'}: {result['error']}")
    benchmark.extra_info.update(
        kind="tiles",
        size=size,
        shape=result["shape"],
        tiles=result["tiles"],
        tile=result["tile"],
        cap_gib=cap,
        precision=precision,
        seconds_per_step=result["seconds_per_step"],
        peak_rss_gib=result["peak_kib"] / 2**20,
        kept=result["kept"],
        split=result["split"],
    )
    if cap is not None:
        assert result["peak_kib"] * 1024 <= cap * 2**30 * 1.1, "the tiled step went over its cap"
