"""Video: frames in and out, the warp, the occlusion mask, the temporal loss, and a painted
clip that resumes at a frame boundary with the same bytes."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import EXAMPLES, TINY_CONTENT_LAYERS, TINY_STYLE_LAYERS
from PIL import Image

from keras_nst import video

pytest.importorskip("cv2")


def _texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth random texture (blurred noise) that optical flow can follow."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (height // 4, width // 4, 3)).astype(np.uint8)
    return np.asarray(Image.fromarray(noise).resize((width, height), Image.Resampling.BICUBIC))


# === Warp and flow ===


def test_the_warp_follows_a_known_shift():
    previous = _texture(48, 64).astype(np.float32)
    shift = 3
    current = np.roll(previous, shift, axis=1)  # the scene moved 3 px to the right
    flow = np.zeros((48, 64, 2), np.float32)
    flow[..., 0] = -shift  # current(x) = previous(x - 3)
    warped = video.warp(previous, flow)
    np.testing.assert_allclose(warped[:, shift:], current[:, shift:], atol=1e-4)
    # The left border (no pixel came from there) repeats the image's edge column.
    np.testing.assert_allclose(
        warped[:, :shift], np.repeat(previous[:, :1], shift, axis=1), atol=1e-4
    )
    # A sub-pixel shift interpolates linearly between neighbours.
    flow[..., 0] = 0.5
    np.testing.assert_allclose(
        video.warp(previous, flow)[:, :-1], 0.5 * (previous[:, :-1] + previous[:, 1:]), atol=1e-3
    )


def test_estimated_flow_finds_the_shift():
    previous = _texture(64, 96)
    current = np.roll(previous, 4, axis=1)
    backward = video.optical_flow(current, previous)
    inner = backward[8:-8, 12:-12]
    assert np.median(inner[..., 0]) == pytest.approx(-4, abs=0.25)
    assert np.median(np.abs(inner[..., 1])) < 0.25


# === Occlusion mask ===


def test_the_mask_marks_what_a_moving_patch_uncovers_with_exact_flows():
    height, width, left, size, step = 40, 60, 10, 12, 5
    forward = np.zeros((height, width, 2), np.float32)  # previous -> current
    backward = np.zeros((height, width, 2), np.float32)  # current -> previous
    rows = slice(14, 14 + size)
    forward[rows, left : left + size, 0] = step
    backward[rows, left + step : left + step + size, 0] = -step
    mask = video.consistency_mask(forward, backward)
    uncovered = mask[rows, left : left + step]
    assert np.all(uncovered == 0)  # hidden under the patch in the previous frame
    moved = mask[16 : 14 + size - 2, left + step + 2 : left + step + size - 2]
    assert np.all(moved == 1)  # the patch itself, inside its boundary: followed
    far = np.ones_like(mask, bool)
    far[10 : 18 + size, left - 3 : left + step + size + 3] = False
    assert np.all(mask[far] == 1)  # the still background


def test_the_mask_on_estimated_flow_of_a_synthetic_occlusion():
    background, patch = _texture(64, 96, 1), _texture(20, 20, 2)
    previous, current = background.copy(), background.copy()
    previous[22:42, 20:40] = patch
    current[22:42, 26:46] = patch
    backward = video.optical_flow(current, previous)
    forward = video.optical_flow(previous, current)
    mask = video.consistency_mask(forward, backward)
    assert mask[24:40, 20:26].mean() < 0.5  # uncovered background
    far = np.ones_like(mask, bool)
    far[12:52, 10:56] = False
    assert mask[far].mean() > 0.95


def test_novelty_marks_what_a_moving_patch_uncovers_but_not_a_still_background():
    background, patch = _texture(64, 96, 1), _texture(20, 20, 2)
    previous, current = background.copy(), background.copy()
    previous[22:42, 20:40] = patch
    current[22:42, 26:46] = patch
    new = video.novelty(previous, current, video.optical_flow(current, previous))
    assert new.dtype == np.float32 and new.shape == (64, 96)
    assert new.min() >= 0 and new.max() <= 1
    assert new[24:40, 20:26].mean() > 0.8  # uncovered background: the warp shows the patch there
    far = np.ones_like(new, bool)
    far[12:52, 10:56] = False
    assert np.all(new[far] == 0)
    # A still frame: the flow's noise moves nothing that differs.
    assert np.all(
        video.novelty(background, background, video.optical_flow(background, background)) == 0
    )
    # By hand: an exact flow, and one pixel changed by 20 levels (between low=8 and high=32),
    # widened to its 5 x 5 neighbourhood.
    changed = background.astype(np.float32)
    changed[30, 40] += 20
    new = video.novelty(background, changed, np.zeros((64, 96, 2), np.float32))
    np.testing.assert_allclose(new[28:33, 38:43], (20 - 8) / (32 - 8), rtol=1e-5)
    assert new.sum() == pytest.approx(25 * (20 - 8) / (32 - 8), rel=1e-5)


def test_a_frame_starts_from_the_moved_iterate_and_from_its_own_start_where_new(rng):
    from keras_nst import painting
    from keras_nst.video_painting import Guide, VideoPlan

    frames = [_texture(32, 48, seed) for seed in (3, 4)]
    plan = VideoPlan(
        frames,
        EXAMPLES / "starry_night.jpg",
        {"init": "content"},
        painting.painting_settings({"steps": 4, "min_size": None}),
        2,
    )
    iterate = rng.uniform(0, 255, (1, 32, 48, 3)).astype(np.float32)
    backward = np.zeros((32, 48, 2), np.float32)
    backward[..., 0] = -2.0  # the scene moved 2 px to the right
    new = np.zeros((32, 48), np.float32)
    new[:, :10], new[:, 10:20] = 1.0, 0.25
    guide = Guide(warped=None, mask=None, backward=backward, new=new)
    start = plan.start(iterate, 1, 48, guide)
    moved = video.warp(iterate[0], backward)
    fresh = plan.task(1, 48).initial_images()[0]
    np.testing.assert_allclose(start[0, :, 20:], moved[:, 20:], atol=1e-4)
    np.testing.assert_allclose(start[0, :, :10], fresh[:, :10], atol=1e-4)
    np.testing.assert_allclose(
        start[0, :, 10:20], 0.75 * moved[:, 10:20] + 0.25 * fresh[:, 10:20], atol=1e-3
    )


# === The temporal loss ===


@pytest.mark.parametrize("calibration", ["normalized", "gatys2015"])
def test_the_temporal_loss_against_numpy(calibration, rng):
    from keras import ops

    from keras_nst import StyleTask
    from keras_nst.terms import TemporalTerm

    task = StyleTask(
        EXAMPLES / "tubingen.jpg", EXAMPLES / "starry_night.jpg", size=32, calibration=calibration
    )
    term = TemporalTerm(task, weight=7.0)
    shape = (task.height, task.width)
    assert [t.shape for t in term.targets(task, None)] == [(1, *shape, 3), (1, *shape, 1)]
    image = rng.uniform(0, 255, (2, *shape, 3)).astype(np.float32)
    warped = rng.uniform(0, 255, (*shape, 3)).astype(np.float32)
    mask = (rng.uniform(size=shape) > 0.3).astype(np.float32)
    term.previous = (warped, mask)
    targets = [ops.convert_to_tensor(t) for t in term.targets(task, None)]
    value, parts = term(None, ops.convert_to_tensor(image), targets, ops.convert_to_tensor([0, 0]))
    expected = (
        7.0
        * np.sum(mask[None, ..., None] * (image - warped) ** 2, axis=(1, 2, 3))
        / (shape[0] * shape[1] * 3)
    )
    if calibration == "normalized":
        expected = expected / 255.0**2
    np.testing.assert_allclose(ops.convert_to_numpy(value), expected, rtol=1e-5)
    assert parts == {}


# === Frames in and out ===


def test_frames_round_trip_through_a_folder_a_gif_and_a_video(tmp_path):
    frames = [_texture(24, 32, seed) for seed in range(3)]
    folder = video.write_frames(tmp_path / "frames", frames)
    assert sorted(p.name for p in folder.iterdir()) == [
        "frame_00000.png",
        "frame_00001.png",
        "frame_00002.png",
    ]
    read, _ = video.read_frames(folder)
    assert all(np.array_equal(a, b) for a, b in zip(read, frames)) and len(read) == 3
    read, fps = video.read_frames(video.write_frames(tmp_path / "clip.gif", frames, fps=10))
    assert len(read) == 3 and read[0].shape == (24, 32, 3) and fps == pytest.approx(10)
    # A palette of 256 colours: close, not equal.
    assert np.mean(np.abs(read[1].astype(float) - frames[1])) < 12
    read, fps = video.read_frames(video.write_frames(tmp_path / "clip.avi", frames, fps=10))
    assert len(read) == 3 and read[0].shape == (24, 32, 3) and fps == pytest.approx(10)
    assert np.mean(np.abs(read[2].astype(float) - frames[2])) < 20  # lossy (MJPEG)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(ValueError, match=r"`input` holds no frames"):
        video.read_frames(tmp_path)
    (tmp_path / "a.png").write_bytes(b"")
    Image.new("RGB", (8, 6)).save(tmp_path / "a.png")
    Image.new("RGB", (6, 8)).save(tmp_path / "b.png")
    with pytest.raises(
        ValueError, match=r"frames must all have one size: a.png is 8 x 6, b.png is 6 x 8"
    ):
        video.read_frames(tmp_path)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    with pytest.raises(ValueError, match=r"`input` could not be read as a video"):
        video.read_frames(broken)
    with pytest.raises(ValueError, match=r"`input` does not exist"):
        video.read_frames(tmp_path / "missing.mp4")
    with pytest.raises(ValueError, match=r"`output` must be a folder or a file ending in .gif"):
        video.check_output(tmp_path / "out.txt")


# === Painting a clip ===

TINY = dict(
    weights=None,
    precision="float32",
    size=32,
    min_size=None,
    steps=4,
    frame_steps=3,
    content_layers=TINY_CONTENT_LAYERS,
    style_layers=TINY_STYLE_LAYERS,
    checkpoint_every=100,
)


def _clip() -> list[np.ndarray]:
    frames, _ = video.read_frames(EXAMPLES / "clip.gif")
    return frames[:3]


def test_a_clip_resumes_at_a_frame_boundary_with_the_same_bytes(tmp_path):
    import keras

    from keras_nst.video_painting import stylize_video

    style = EXAMPLES / "starry_night.jpg"
    whole = stylize_video(
        _clip(), style, output=tmp_path / "whole", log_dir=tmp_path / "logs", **TINY
    )
    assert (
        whole.output == tmp_path / "whole" and len(whole.frames) == 3 and whole.steps == 4 + 3 + 3
    )
    assert (
        whole.frame_losses[1]["temporal_loss"] > 0 and whole.frame_losses[0]["temporal_loss"] == 0
    )

    class StopAfterFrame1(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(keras.ops.convert_to_numpy(self.model.optimizer.iterations)) == 4 + 3:
                self.model.stop_training = True

    directory = tmp_path / "checkpoint"
    first = stylize_video(
        _clip(),
        style,
        output=tmp_path / "cut.gif",
        checkpoint_dir=directory,
        callbacks=[StopAfterFrame1()],
        **TINY,
    )
    assert first.output is None and not (tmp_path / "cut.gif").exists()  # unfinished: no clip
    assert sorted(p.name for p in (directory / "frames").iterdir()) == [
        "frame_00000.png",
        "frame_00001.png",
    ]
    rest = stylize_video(_clip(), style, output=tmp_path / "cut", resume=directory, **TINY)
    assert rest.steps == 10 and len(rest.frames) == 3
    for a, b in zip(rest.frames, whole.frames):
        np.testing.assert_array_equal(a, b)
    read, _ = video.read_frames(tmp_path / "cut")
    np.testing.assert_array_equal(read[2], whole.frames[2])
    # TensorBoard: one step axis with the frame and the temporal loss, and a run of frames.
    from conftest import read_events, tensor_value

    events = read_events(tmp_path / "logs")
    assert [e.step for e in events.Tensors("temporal_loss")] == list(range(1, 11))
    assert [float(tensor_value(e)) for e in events.Tensors("frame")] == [0] * 4 + [1] * 3 + [2] * 3
    frames_run = read_events(tmp_path / "logs" / "frames")
    assert [e.step for e in frames_run.Tensors("frame")] == [0, 1]


@pytest.mark.slow  # one of the slowest: make test runs it, make test-fast not
def test_later_frames_reuse_the_compiled_step_and_paint_what_a_fresh_one_paints(monkeypatch):
    """A frame of the size and settings of the one before is painted by the step already
    compiled, its variables assigned anew (tracing cost 0.6-1 s a frame); the frames are
    those of a model that makes new variables, and traces again, at every frame."""
    from keras_nst.model import StyleTransferModel
    from keras_nst.video_painting import stylize_video

    traced = []
    train_step = StyleTransferModel.train_step

    def counted(self, data):
        traced.append(int(self.image.shape[1]))  # runs once per trace, not per step
        return train_step(self, data)

    monkeypatch.setattr(StyleTransferModel, "train_step", counted)
    settings = {**TINY, "min_size": 20, "average": 0.9}  # the first frame at 23 and 32 px
    style = EXAMPLES / "starry_night.jpg"
    reused = stylize_video(_clip(), style, **settings)
    traces = list(traced)
    monkeypatch.setattr(
        StyleTransferModel, "_same_step_targets", lambda self, task, optimizer: None
    )
    fresh = stylize_video(_clip(), style, **settings)
    assert traces == [15, 21] and traced[2:] == [15, 21, 21, 21]  # fresh: a trace a frame
    assert reused.frame_losses[2]["temporal_loss"] > 0
    for a, b in zip(reused.frames, fresh.frames, strict=True):
        np.testing.assert_array_equal(a, b)
    assert reused.frame_losses == fresh.frame_losses


def test_the_first_frame_hands_over_to_the_clips_optimizer_at_its_final_scale():
    from conftest import record_optimizers

    from keras_nst.video_painting import stylize_video

    record = record_optimizers()
    settings = {**TINY, "min_size": 20, "scale_optimizer": "lbfgs"}
    painted = stylize_video(
        _clip()[:2], EXAMPLES / "starry_night.jpg", callbacks=[record], **settings
    )
    # The first frame: 23 px with L-BFGS, 32 px with Adam; the next frame goes on with Adam.
    assert painted.steps == 4 + 4 + 3 and len(painted.frames) == 2
    assert record.seen == [("LBFGS", 0)] * 4 + [("RestartedAdam", 4)] * 7


def test_the_command_line_paints_a_clip_and_names_bad_input(tmp_path, capsys):
    from keras_nst.cli import main

    empty = tmp_path / "empty"
    empty.mkdir()
    assert (
        main(
            ["video", str(empty), str(EXAMPLES / "starry_night.jpg"), "-o", str(tmp_path / "o.gif")]
        )
        == 2
    )
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "`INPUT` holds no frames" in error[0] and "INPUT='" in error[0]
    assert not (tmp_path / "o.gif").exists()
    frames = tmp_path / "frames"
    video.write_frames(frames, _clip()[:2])
    code = main(
        [
            "video",
            str(frames),
            str(EXAMPLES / "starry_night.jpg"),
            "-o",
            str(frames),
            "--weights",
            "random",
        ]
    )
    assert code == 2 and "`--output` holds the `INPUT` input" in capsys.readouterr().err
    for option, value in (("--frame-steps", "0"), ("--temporal-weight", "-1"), ("--fps", "0")):
        code = main(
            [
                "video",
                str(frames),
                str(EXAMPLES / "starry_night.jpg"),
                "-o",
                str(tmp_path / "o.gif"),
                option,
                value,
            ]
        )
        error = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(error) == 1, error
        assert f"`{option}` must be" in error[0] and f"Received: {option}=" in error[0]
    output = tmp_path / "painted.gif"
    code = main(
        [
            "video",
            str(frames),
            str(EXAMPLES / "starry_night.jpg"),
            "-o",
            str(output),
            "--size",
            "32",
            "--steps",
            "3",
            "--frame-steps",
            "2",
            "--weights",
            "random",
            "--quiet",
            "--min-size",
            "0",
            "--content-layers",
            "block2_conv2",
            "--style-layers",
            "block1_conv1=0.5,block2_conv1=0.5",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert f"Wrote {output} (2 frames)" in capsys.readouterr().out
    read, _ = video.read_frames(output)
    assert len(read) == 2 and read[0].shape == (21, 32, 3)
    # Finished: the checkpoint and the frames kept for a resume are gone; the inputs stay.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "frames", "painted.gif"]
    assert len(list(frames.iterdir())) == 2


def test_the_command_line_decodes_a_clips_frames_once(tmp_path, monkeypatch, capsys):
    from keras_nst.cli import main

    clip = tmp_path / "clip.gif"
    video.write_frames(clip, _clip()[:2], 5.0)
    calls = []
    read_frames = video.read_frames

    def counting(*args, **kwargs):
        calls.append(args[0])
        return read_frames(*args, **kwargs)

    monkeypatch.setattr(video, "read_frames", counting)
    output = tmp_path / "painted.gif"
    argv = ["video", str(clip), str(EXAMPLES / "starry_night.jpg"), "-o", str(output)]
    argv += ["--size", "32", "--steps", "2", "--frame-steps", "1", "--min-size", "0"]
    argv += ["--weights", "random", "--quiet", "--content-layers", "block2_conv2"]
    argv += ["--style-layers", "block1_conv1=0.5,block2_conv1=0.5"]
    assert main(argv) == 0, capsys.readouterr().err
    assert calls == [str(clip)]
    frames, fps = read_frames(output)
    assert len(frames) == 2 and fps == pytest.approx(5.0, rel=0.05)  # the file's frame rate kept
    # The clip is still an input no output may replace.
    assert main([*argv[:4], str(clip), *argv[5:]]) == 2
    assert "`--output` would write over the `INPUT` input" in capsys.readouterr().err
