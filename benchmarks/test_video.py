"""Video: flicker of a painted clip against the same clip painted frame by frame.

The shipped clip (`examples/clip.gif`: a still photo with a patch sliding across) is painted
twice: by `keras_nst.stylize_video` (each frame from the previous painted frame warped along
the flow, with the temporal loss), and independently (each frame by `stylize` from its own
photo, as many steps as the first frame gets). Flicker: the mean absolute difference between
consecutive painted frames over the pixels where the input is static (identical input pixels
and flow under half a pixel), averaged over the clip. Each painted frame is also judged
(`judge.py`: style and content distances by a network none of the painters used).
Goal: flicker at most 0.3 of the independent painting's, distances within 10% of its.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from conftest import EXAMPLES, RESULTS, SMOKE, STYLE, WEIGHTS
from PIL import Image

pytest.importorskip("cv2")

CLIP = EXAMPLES / "clip.gif"
#: (frames, longest side, first frame's steps, each later frame's steps)
FRAMES, SIZE, STEPS, FRAME_STEPS = (2, 32, 2, 2) if SMOKE else (12, 128, 150, 60)
#: The pretrained features where the package is installed (`KERAS_NST_BENCH_WEIGHTS=random`
#: for random weights).
PAINTED_WITH = "pretrained" if "pretrained" in WEIGHTS else "random"
SETTINGS = dict(weights=WEIGHTS.get(PAINTED_WITH), precision="float32", min_size=None)
#: `KERAS_NST_BENCH_TEMPORAL_WEIGHT`: another temporal weight than the default, to compare
#: (the video's own setting: the independent frames do not take it).
VIDEO_SETTINGS = {}
if os.environ.get("KERAS_NST_BENCH_TEMPORAL_WEIGHT"):
    VIDEO_SETTINGS["temporal_weight"] = float(os.environ["KERAS_NST_BENCH_TEMPORAL_WEIGHT"])
if SMOKE:
    SETTINGS.update(
        style_layers=[f"block{b}_conv1" for b in (1, 2)], content_layers=["block2_conv2"]
    )


def static_pixels(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Where the input does not move: equal pixels and flow under half a pixel."""
    from keras_nst import video

    flow = video.optical_flow(current, previous)
    return np.all(previous == current, axis=-1) & (np.linalg.norm(flow, axis=-1) < 0.5)


def flicker(painted: list, inputs: list) -> float:
    """Mean |painted_t - painted_t-1| over the input's static pixels, over the clip."""
    values = []
    for t in range(1, len(painted)):
        still = static_pixels(inputs[t - 1], inputs[t])
        difference = np.abs(painted[t].astype(np.float64) - painted[t - 1].astype(np.float64)).mean(
            -1
        )
        values.append(difference[still].mean())
    return float(np.mean(values))


def _independent(frames, style):
    from keras_nst import StyleTask, stylize

    painted, extractor = [], None
    for frame in frames:
        task = StyleTask(
            frame, style, size=SIZE, **{k: v for k, v in SETTINGS.items() if k.endswith("layers")}
        )
        result = stylize(
            task,
            steps=STEPS,
            extractor=extractor,
            verbose=0,
            **{k: v for k, v in SETTINGS.items() if not k.endswith("layers")},
        )
        extractor = result.model.extractor
        painted.append(result.images[0])
    return painted


def _sheet(path, rows) -> None:
    """An animated GIF of the clips side by side (input, independent, keras-nst)."""
    width = sum(frames[0].shape[1] for frames in rows) + 4 * (len(rows) - 1)
    height = rows[0][0].shape[0]
    pictures = []
    for t in range(len(rows[0])):
        canvas = Image.new("RGB", (width, height), "white")
        x = 0
        for frames in rows:
            canvas.paste(Image.fromarray(frames[t]), (x, 0))
            x += frames[t].shape[1] + 4
        pictures.append(canvas)
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=100, loop=0)


def test_video_flicker(benchmark):
    from judge import judge

    from keras_nst import StyleTask, video
    from keras_nst.images import to_uint8
    from keras_nst.video_painting import stylize_video

    frames, _ = video.read_frames(CLIP)
    frames = frames[:FRAMES]
    inputs = [to_uint8(StyleTask(f, STYLE, size=SIZE).content_image) for f in frames]
    # The style as the painters see it (at the painting's size): the judge's style statistics.
    style = StyleTask(frames[0], STYLE, size=SIZE).style_images[0]

    def paint():
        started = time.perf_counter()
        ours = stylize_video(
            frames,
            STYLE,
            size=SIZE,
            steps=STEPS,
            frame_steps=FRAME_STEPS,
            verbose=0,
            **SETTINGS,
            **VIDEO_SETTINGS,
        )
        ours_seconds = time.perf_counter() - started
        started = time.perf_counter()
        alone = _independent(frames, STYLE)
        return ours.frames, ours_seconds, alone, time.perf_counter() - started

    ours, ours_seconds, alone, alone_seconds = benchmark.pedantic(paint, rounds=1, iterations=1)
    scores = {}
    for name, painted in (("keras-nst", ours), ("independent", alone)):
        judged = [judge(p, i, style) for p, i in zip(painted, inputs)]
        scores[name] = {key: float(np.mean([j[key] for j in judged])) for key in judged[0]}
        scores[name]["flicker"] = flicker(painted, inputs)
    directory = RESULTS / "video"
    directory.mkdir(parents=True, exist_ok=True)
    video.write_frames(directory / "clip_keras-nst.gif", ours, fps=10)
    video.write_frames(directory / "clip_independent.gif", alone, fps=10)
    _sheet(directory / "clip_side_by_side.gif", [inputs, alone, ours])
    benchmark.group = "video"
    benchmark.extra_info.update(
        kind="video",
        frames=len(frames),
        size=SIZE,
        steps=STEPS,
        frame_steps=FRAME_STEPS,
        weights="random" if SETTINGS["weights"] is None else SETTINGS["weights"],
        temporal_weight=VIDEO_SETTINGS.get("temporal_weight", "default"),
        seconds={"keras-nst": ours_seconds, "independent": alone_seconds},
        scores=scores,
        flicker_ratio=scores["keras-nst"]["flicker"] / max(scores["independent"]["flicker"], 1e-12),
    )
    assert all(np.isfinite(v) for s in scores.values() for v in s.values())
