"""Painting a clip: `keras_nst.stylize_video(frames, style, ...)`.

Ruder, Dosovitskiy and Brox's single pass (2016): the first frame is painted as `stylize`
paints a picture (coarse to fine); every next frame is painted at the final size for
`frame_steps` steps, starting from the previous frame's painting warped along the input's
optical flow, with a temporal loss (`keras_nst.terms.TemporalTerm`) that holds it to the
previous painted frame, warped, where the flow is trusted (`keras_nst.video.consistency_mask`).
Adam's moments are warped along the same flow, so the optimisation goes on where it was.

Three deviations, each measured on the shipped clip (docs/video.md):

- A frame starts from the optimiser's own iterate, warped, rather than from the painted
  (averaged) frame, and the running average of the image goes on across frames (warped
  too) instead of restarting: starting Adam from the smoother average threw its first steps
  off, and a restarted average kept their jitter.
- Where a frame shows something new (`keras_nst.video.novelty`: the previous input frame,
  warped, differs from this one), the frame starts from its own initial image, as if painted
  alone, its average restarts, and the temporal loss leaves it alone. Otherwise whatever
  the warp smeared there stays: a moving object leaves a trail.
- The default temporal weight (60) is chosen by measurement: with the running average going
  on, a small weight already holds the flicker down, and larger ones cost style.

Frames are stages of one painting: all of them run in one `fit` on one step counter, so the
guards (Ctrl-C, NaN), checkpoints and TensorBoard see one run. A checkpoint records the
frame and the step within it; the frames finished so far are kept as PNGs in the checkpoint
directory (`frames/`), and a resumed run continues at the frame and step where it stopped.
Every frame after the first has the size and settings of the one before, so the step fit
compiled paints it as it is: `StyleTransferModel.set_task` assigns the frame's targets, image,
average and optimizer state in place instead of making variables that would trace it again.

Frames are sequential: each starts from the painted frame before it, and its temporal loss
needs that frame, so frames cannot be painted side by side in this scheme. Under a
`MirroredStrategy` the replicas share each frame's tiles (large frames) instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from keras_nst import images as images_lib
from keras_nst import painting, paths, video
from keras_nst import settings as settings_lib
from keras_nst.schedule import Schedule, Stage
from keras_nst.task import StyleTask

#: Where a video painting keeps its finished frames, inside the checkpoint directory.
FRAMES_DIR = "frames"


def remove_checkpoint(directory) -> None:
    """Removes a finished clip's checkpoint and the frames kept with it, and `directory`
    where that leaves it empty (anything else a user put there stays)."""
    from keras_nst.checkpoints import remove_checkpoint as remove_picture_checkpoint

    frames = Path(directory) / FRAMES_DIR
    if frames.is_dir():
        for path in frames.glob(video.FRAME_NAME.replace("{:05d}", "[0-9]" * 5)):
            path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            frames.rmdir()
    remove_picture_checkpoint(directory)


@dataclasses.dataclass
class VideoPainting:
    """What a video painting produced, and how it ended.

    Attributes:
        frames: the painted frames, `uint8 (H, W, 3)` each (those finished when stopped early).
        fps: the frame rate written.
        model, history, steps, seconds, output, checkpoint_dir, stopped_by, bad_losses,
            bad_step: as for `keras_nst.Painting`.
        frame_losses: the losses of each finished frame's last step (`loss`,
            `temporal_loss`, ...).
    """

    frames: list
    fps: float
    model: Any
    history: Any
    steps: int
    seconds: float
    output: Path | None = None
    checkpoint_dir: Path | None = None
    stopped_by: str | None = None
    bad_losses: list = dataclasses.field(default_factory=list)
    bad_step: int | None = None
    frame_losses: list = dataclasses.field(default_factory=list)

    @property
    def signal_number(self) -> int | None:
        return (
            getattr(signal, self.stopped_by) if self.stopped_by in ("SIGINT", "SIGTERM") else None
        )


def _split(settings: dict) -> tuple[dict, dict, dict]:
    """(task settings, painting settings, video settings), each checked."""
    task_names = [s.name for s in settings_lib.TASK_SETTINGS]
    video_names = [s.name for s in settings_lib.VIDEO_SETTINGS]
    painting_names = [s.name for s in painting.PAINTING_SETTINGS]
    settings_lib.check_known(settings, task_names + painting_names + video_names, "stylize_video")
    task = {k: v for k, v in settings.items() if k in task_names}
    values = {k: v for k, v in settings.items() if k in painting_names}
    chosen = {
        s.name: s.check(settings.get(s.name, s.default), s.name)
        for s in settings_lib.VIDEO_SETTINGS
    }
    return task, values, chosen


@dataclasses.dataclass
class Guide:
    """How a frame follows the painted frame before it.

    Attributes:
        warped: the previous painted frame moved along the input's optical flow into this
            frame (what the temporal loss holds it to, as in Ruder et al.), float32 `(H, W, 3)`.
        mask: where that flow is trusted (`video.consistency_mask`) and the frame shows
            nothing new (`1 - new`), float32 `(H, W)`.
        backward: the flow from this frame to the previous one.
        new: how new each pixel of the frame is (`video.novelty`), float32 `(H, W)`.
    """

    warped: np.ndarray
    mask: np.ndarray
    backward: np.ndarray
    new: np.ndarray


class VideoPlan:
    """The frames of a clip as the stages of one painting.

    Args:
        frames: `uint8 (H, W, 3)` input frames.
        style: the style image(s), as for `StyleTask`.
        task_settings: `StyleTask` settings shared by every frame.
        values: checked painting settings (`steps`, `min_size`, ...).
        frame_steps: steps of each frame after the first.
    """

    def __init__(self, frames, style, task_settings: dict, values: dict, frame_steps: int | None):
        self.frames = frames
        self.style = style
        self.task_settings = task_settings
        self.first = StyleTask(frames[0], style, **task_settings)
        first_stages = painting.default_schedule(self.first, values).stages
        size = first_stages[-1].size
        self.frame_steps = frame_steps or max(1, values["steps"] // 2)
        self.schedule = Schedule(
            list(first_stages) + [Stage(size, self.frame_steps)] * (len(frames) - 1)
        )
        self.frame_of_stage = [0] * len(first_stages) + list(range(1, len(frames)))
        self._tasks = {}

    def task(self, frame: int, size: int) -> StyleTask:
        """Frame `frame`'s task at `size`."""
        key = (frame, size)
        if key not in self._tasks:
            task = (
                self.first
                if frame == 0
                else StyleTask(self.frames[frame], self.style, **self.task_settings)
            )
            # The previous frame's and this one's: what `guide` reads.
            self._tasks = {k: v for k, v in self._tasks.items() if k[0] >= frame - 1}
            self._tasks[key] = task.at_size(size) if task.size else task
        return self._tasks[key]

    def locate(self, steps_done: int) -> tuple[int, int]:
        """`(stage index, frame)` after `steps_done` steps."""
        stage = self.schedule.locate(steps_done)[0]
        return stage, self.frame_of_stage[stage]

    def input_at(self, frame: int, size: int) -> np.ndarray:
        """Input frame `frame` at the painting's size, float32."""
        return self.task(frame, size).content_image

    def guide(self, painted_before, frame: int, size: int) -> Guide:
        """How frame `frame` follows the painted frame before it (see `Guide`)."""
        previous, current = self.input_at(frame - 1, size), self.input_at(frame, size)
        backward = video.optical_flow(current, previous)
        forward = video.optical_flow(previous, current)
        new = video.novelty(previous, current, backward)
        # The temporal loss also leaves alone what the frame shows anew (where the flow is
        # consistent but wrong, the warped painting shows the wrong thing).
        mask = video.consistency_mask(forward, backward) * (1.0 - new)
        return Guide(video.warp(painted_before, backward), mask, backward, new)

    def start(self, iterate, frame: int, size: int, guide: Guide):
        """Where frame `frame` starts: the optimiser's iterate moved along the flow, and
        where the frame shows something new, the frame's own initial image (as if it were
        painted alone: the iterate moved there shows what the previous frame had, which the
        frame's steps cannot all repaint)."""
        moved = np.asarray(_flow_carry(guide.backward)(iterate, size, "bilinear", (0.0, 255.0)))
        new = guide.new[None, :, :, None]
        fresh = self.task(frame, size).initial_images()
        return (1.0 - new) * moved + new * np.asarray(fresh, np.float32)

    def digest(self) -> str:
        hashed = hashlib.sha256()
        for frame in self.frames:
            hashed.update(np.ascontiguousarray(frame).tobytes())
        return hashed.hexdigest()[:16]


def _frames(frames, argument: str = "frames") -> tuple[list[np.ndarray], float, list]:
    """(uint8 frames, fps, the input files as (argument, path))."""
    if isinstance(frames, (str, os.PathLike)):
        read, fps = video.read_frames(frames, argument)
        path = Path(frames)
        files = (
            [(argument, f) for f in video.frame_files(path)]
            if path.is_dir()
            else [(argument, path)]
        )
        return read, fps, files
    if not isinstance(frames, Sequence) or isinstance(frames, (bytes, str)) or len(frames) == 0:
        raise ValueError(
            f"`{argument}` must be a video file, a folder of frames or a non-empty sequence of "
            f"(H, W, 3) images. Received: {argument}={type(frames).__name__}"
        )
    arrays = []
    for index, frame in enumerate(frames):
        array = images_lib.load_image(frame, argument=f"{argument}[{index}]")
        if arrays and array.shape != arrays[0].shape:
            raise ValueError(
                f"`{argument}` frames must all have one size: frame 0 is {arrays[0].shape[1]} x "
                f"{arrays[0].shape[0]}, frame {index} is {array.shape[1]} x {array.shape[0]}. "
                f"Received: {argument}[{index}]"
            )
        arrays.append(images_lib.to_uint8(array))
    return arrays, video.DEFAULT_FPS, []


def check_video(
    frames,
    style,
    *,
    output=None,
    checkpoint_dir=None,
    resume=False,
    log_dir=None,
    overwrite: bool = True,
    reads: Sequence = (),
    **settings,
):
    """Everything `stylize_video` checks before it starts, TensorFlow-free. Returns
    `(plan, painting settings, video settings, fps, input files)`.

    Raises:
        ValueError: unreadable or empty frames, frames of different sizes, a bad setting, an
            output that is an input or cannot be written, a checkpoint directory in use.
    """
    video.require_opencv()  # the flow needs it: fail before anything starts
    task_settings, values, chosen = _split(settings)
    read, fps, files = _frames(frames)
    plan = VideoPlan(
        read, style, task_settings, painting.painting_settings(values), chosen["frame_steps"]
    )
    inputs = list(reads) + files
    refuse = None if overwrite else "overwrite=False"
    painting.check(
        plan.first,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        log_dir=log_dir,
        overwrite=overwrite,
        reads=inputs,
        schedule=None,
        **values,
    )
    if output is not None:
        inputs_all = inputs + painting.input_files(plan.first, values.get("weights"))
        video.check_output(output, "output", inputs=inputs_all, refuse_existing=refuse)
        places = [("checkpoint_dir", checkpoint_dir), ("log_dir", log_dir)]
        places = [(name, place) for name, place in places if place is not None]
        if video.kind(output) == "folder":
            for name, place in places:
                if os.path.realpath(output) == os.path.realpath(place):
                    raise ValueError(
                        f"`output` and `{name}` must be different places. "
                        f"Received: output='{output}', "
                        f"{name}='{place}'"
                    )
        else:
            paths.check_distinct([("output", output)], places)
    return plan, values, chosen, chosen["fps"] or fps, inputs


def _losses(logs) -> dict:
    """The loss entries of a step's logs, as floats."""
    return {
        key: float(np.asarray(value)) for key, value in (logs or {}).items() if key.endswith("loss")
    }


def _flow_carry(backward):
    """Moves an optimizer's per-pixel slots along `backward` (a `canvas.resize`-like carry)."""
    from keras import ops

    def carry(values, size, method, clip):
        array = np.asarray(ops.convert_to_numpy(values), np.float32)
        moved = np.stack([video.warp(image, backward) for image in array])
        if clip is not None:
            moved = np.clip(moved, clip[0], clip[1])
        return ops.convert_to_tensor(moved)

    return carry


def _follow_frames(
    plan: VideoPlan,
    temporal,
    state: dict,
    guard,
    store: Path | None,
    log_dir,
    checked: dict,
    tiles: list[int],
):
    """The callback that moves the model from stage to stage and frame to frame (`tiles`:
    each stage's `tile`, `painting.stage_tiles`)."""
    import keras
    import tensorflow as tf
    from keras import ops

    from keras_nst.callbacks import for_dashboard

    class FollowFrames(keras.callbacks.Callback):
        def _steps(self) -> int:
            return int(ops.convert_to_numpy(self.model.optimizer.iterations))

        def on_train_begin(self, logs=None):
            self.stage = plan.locate(self._steps())[0]
            self.writer = (
                None
                if log_dir is None
                else tf.summary.create_file_writer(os.path.join(log_dir, "frames"))
            )

        def _finish(self, frame: int, logs) -> None:
            painted = images_lib.to_uint8(ops.convert_to_numpy(self.model.painted())[0])
            state["frames"].append(painted)
            losses = _losses(logs)
            state["losses"].append(losses)
            if store is not None:
                images_lib.save_image(store / video.FRAME_NAME.format(frame), painted)
            if self.writer is not None:
                with self.writer.as_default(step=frame):
                    for key, value in losses.items():
                        tf.summary.scalar(f"frame/{key}", value)
                    tf.summary.image("frame", for_dashboard(painted[None]))
                self.writer.flush()

        def on_train_batch_end(self, batch, logs=None):
            index, frame = plan.locate(self._steps())
            state["last_logs"] = logs
            if logs is not None:
                logs["frame"] = float(plan.frame_of_stage[self.stage])
            if index == self.stage or guard.bad_losses:
                return
            old_frame = plan.frame_of_stage[self.stage]
            size = plan.schedule.stages[index].size
            if frame == old_frame:  # the first frame's next scale
                optimizer = painting.stage_optimizer(
                    plan.schedule, index, checked, switch_only=True
                )
                self.model.set_task(plan.task(frame, size), optimizer=optimizer, tile=tiles[index])
            else:
                self._finish(old_frame, logs)
                guide = plan.guide(state["frames"][-1], frame, size)
                temporal.previous = (guide.warped, guide.mask)
                # From the iterate, the average going on, new pixels afresh: see the module's
                # docstring.
                start = plan.start(self.model.image, frame, size, guide)
                self.model.set_task(
                    plan.task(frame, size),
                    images=start,
                    carry=_flow_carry(guide.backward),
                    keep_average=1.0 - guide.new,
                )
            self.stage = index

        def on_train_end(self, logs=None):
            if self.writer is not None:
                self.writer.close()

    return FollowFrames()


def stylize_video(
    frames,
    style,
    *,
    output: str | os.PathLike | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool | str | os.PathLike = False,
    log_dir: str | os.PathLike | None = None,
    overwrite: bool = True,
    reads: Sequence = (),
    callbacks: Sequence = (),
    strategy=None,
    extractor=None,
    verbose: Any = "auto",
    **settings,
) -> VideoPainting:
    """Paints a clip in one style, frame after frame, without flicker.

    Args:
        frames: a video file (`.mp4`, ...), an animated GIF/WebP, a folder of frames, or a
            sequence of `(H, W, 3)` images.
        style: the style image(s), as for `StyleTask`.
        output: where the painted clip goes: a video file, a GIF/WebP, or a folder
            (`frame_00000.png`, ...); written when the painting ends.
        checkpoint_dir: where checkpoints and the finished frames (`frames/`) go.
        resume: as for `stylize`: continues at the frame and step where the checkpoint is.
        log_dir: TensorBoard run: the losses on one step axis (with `frame`), and in
            `log_dir/frames` each frame's final losses and painted frame by frame index.
        overwrite, reads, callbacks, strategy, extractor, verbose: as for `stylize`.
        **settings: `StyleTask`'s settings, `stylize`'s painting settings (`steps` is the
            first frame's), and the video's: `temporal_weight`, `frame_steps`, `fps`.

    Returns:
        A `VideoPainting`.
    """
    import keras

    from keras_nst.checkpoints import painting_identity, read_checkpoint
    from keras_nst.terms import TemporalTerm, default_terms

    started = time.perf_counter()
    plan, values, chosen, fps, inputs = check_video(
        frames,
        style,
        output=output,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        log_dir=log_dir,
        overwrite=overwrite,
        reads=reads,
        **settings,
    )
    checked = painting.painting_settings(values)
    resume_from = painting._resume_directory(resume, checkpoint_dir)
    if resume_from is not None:
        checkpoint_dir = resume_from
    store = None if checkpoint_dir is None else Path(checkpoint_dir) / FRAMES_DIR
    done = read_checkpoint(resume_from)[1]["step"] if resume_from is not None else 0
    stage, frame = plan.locate(done)
    size = plan.schedule.stages[stage].size
    state = {"frames": [], "losses": [], "last_logs": None}
    for index in range(frame):
        path = store / video.FRAME_NAME.format(index)
        if not path.is_file():
            raise ValueError(
                f"`resume` directory lacks the finished frame {path.name} in {FRAMES_DIR}/. "
                f"Received: resume='{resume_from}'"
            )
        state["frames"].append(images_lib.load_image(path, argument="resume").astype(np.uint8))
        state["losses"].append({})
    temporal = TemporalTerm(plan.first, chosen["temporal_weight"])
    if frame > 0:
        guide = plan.guide(state["frames"][-1], frame, size)
        temporal.previous = (guide.warped, guide.mask)
    task = plan.task(frame, size)
    tiles = painting.stage_tiles(plan.first, checked, plan.schedule)
    model = painting.build_model(
        task,
        strategy=strategy,
        extractor=extractor,
        schedule=plan.schedule,
        stage=stage,
        terms=default_terms(task) + [temporal],
        tiles=tiles,
        **values,
    )
    identity = {
        **painting_identity(model),
        "task": plan.first.fingerprint(),
        "frames": plan.digest(),
        "schedule": plan.schedule.identity(),
        "temporal_weight": chosen["temporal_weight"],
    }
    if store is not None:
        store.mkdir(parents=True, exist_ok=True)
    total = plan.schedule.total_steps
    history, stopped_by, guard = painting.run_guarded(
        model,
        lambda guard: _follow_frames(plan, temporal, state, guard, store, log_dir, checked, tiles),
        total_steps=total,
        done=done,
        checkpoint_dir=checkpoint_dir,
        resume_from=resume_from,
        identity=identity,
        log_dir=log_dir,
        values=checked,
        callbacks=callbacks,
        verbose=verbose,
        costs=plan.schedule.step_costs(),
    )
    steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    written = None
    if stopped_by is None and steps >= total:
        last = images_lib.to_uint8(keras.ops.convert_to_numpy(model.painted())[0])
        state["frames"].append(last)
        state["losses"].append(_losses(state["last_logs"]))
        if store is not None:
            images_lib.save_image(store / video.FRAME_NAME.format(len(plan.frames) - 1), last)
        if output is not None:
            written = video.write_frames(output, state["frames"], fps)
    return VideoPainting(
        frames=state["frames"],
        fps=fps,
        model=model,
        history=history,
        steps=steps,
        seconds=time.perf_counter() - started,
        output=written,
        checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir),
        stopped_by=stopped_by,
        bad_losses=guard.bad_losses,
        bad_step=guard.bad_step,
        frame_losses=state["losses"],
    )
