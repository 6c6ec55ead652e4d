"""Video: frames in and out, optical flow, warping and the occlusion mask.

Ruder, Dosovitskiy and Brox (2016, "Artistic style transfer for videos") paint a clip frame
by frame, each frame starting from the previous *painted* frame warped along the optical flow
of the input, with a temporal loss that keeps the painting where the flow says the same
surface is visible in both frames. This module holds the parts that are not TensorFlow:

- `read_frames(source)`: a folder of images, an animated GIF/WebP, or a video file;
- `write_frames(path, frames, fps)`: a folder of PNGs, a GIF, or a video file, atomically;
- `optical_flow(source, target)`: dense flow (OpenCV's DIS);
- `warp(image, flow)`: `image` moved along `flow` (bilinear);
- `consistency_mask(forward, backward)`: 1 where the flow is trusted, 0 where a pixel was
  hidden in the previous frame (forward-backward check) or lies on a motion boundary.

Flow convention: `flow = optical_flow(a, b)` gives, at each pixel `x` of `a`, the offset
`flow[x] = (dx, dy)` with `a(x) ~ b(x + flow[x])`. So `warp(b, flow)` looks like `a`.

Video files and flow need OpenCV (`pip install opencv-python-headless`, the `video` extra);
folders of frames and GIFs are read and written with Pillow alone.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from keras_nst import images as images_lib
from keras_nst import paths
from keras_nst.files import WriteError, atomic_write

#: Files read and written as video through OpenCV.
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")
#: Animations Pillow reads and writes frame by frame.
ANIMATION_SUFFIXES = (".gif", ".webp")
#: Codecs OpenCV writes each video container with.
_FOURCC = {
    ".mp4": "mp4v",
    ".m4v": "mp4v",
    ".mov": "mp4v",
    ".avi": "MJPG",
    ".mkv": "MJPG",
    ".webm": "VP80",
}
#: Frame rate of a folder of frames (and of an animation that does not say).
DEFAULT_FPS = 12.0
#: Names a painted folder's frames get.
FRAME_NAME = "frame_{:05d}.png"


def require_opencv():
    try:
        import cv2
    except ImportError:
        raise ImportError(
            "Video files and optical flow need OpenCV: pip install opencv-python-headless "
            "(or keras-nst[video])."
        ) from None
    return cv2


def kind(path: str | os.PathLike) -> str:
    """`"folder"`, `"animation"` or `"video"`: how `path` is read or written (a path without
    a suffix, or an existing directory, is a folder of frames)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir() or not suffix:
        return "folder"
    if suffix in ANIMATION_SUFFIXES:
        return "animation"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "unknown"


def _suffixes() -> str:
    return ", ".join(ANIMATION_SUFFIXES + VIDEO_SUFFIXES)


def frame_files(folder: str | os.PathLike) -> list[Path]:
    """The image files of a folder of frames, in name order (hidden files skipped)."""
    known = set(Image.registered_extensions())
    return sorted(
        p
        for p in Path(folder).iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in known
    )


def read_frames(
    source: str | os.PathLike, argument: str = "input"
) -> tuple[list[np.ndarray], float]:
    """The frames of `source` as `uint8 (H, W, 3)` arrays, and its frame rate.

    Args:
        source: a folder of images (read in name order), an animated GIF or WebP, or a video
            file (`VIDEO_SUFFIXES`, through OpenCV).
        argument: how errors name `source`.

    Raises:
        ValueError: a missing or unreadable source, one without frames, or frames of
            different sizes.
    """
    path = Path(source)
    if not path.exists():
        raise ValueError(f"`{argument}` does not exist. Received: {argument}='{source}'")
    how = kind(path)
    fps = DEFAULT_FPS
    if how == "folder":
        if not path.is_dir():
            raise ValueError(
                f"`{argument}` must be a folder of frames or a file ending in {_suffixes()}. "
                f"Received: {argument}='{source}'"
            )
        frames, names = [], []
        for file in frame_files(path):
            frames.append(images_lib.load_image(file, argument=argument).astype(np.uint8))
            names.append(file.name)
    elif how == "animation":
        paths.check_input_file(path, argument, "animation")
        try:
            with Image.open(path) as animation:
                duration = animation.info.get("duration")
                frames = [
                    np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(animation)
                ]
        except (OSError, ValueError) as error:
            raise ValueError(
                f"`{argument}` could not be read as an animation ({error}). "
                f"Received: {argument}='{source}'"
            ) from None
        if duration:
            fps = 1000.0 / float(duration)
        names = [f"frame {i}" for i in range(len(frames))]
    elif how == "video":
        paths.check_input_file(path, argument, "video")
        cv2 = require_opencv()
        capture = cv2.VideoCapture(str(path))
        frames = []
        try:
            if capture.isOpened():
                fps = float(capture.get(cv2.CAP_PROP_FPS)) or DEFAULT_FPS
                while True:
                    ok, frame = capture.read()
                    if not ok:
                        break
                    frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        finally:
            capture.release()
        if not frames:
            raise ValueError(
                f"`{argument}` could not be read as a video (no frame decoded). "
                f"Received: {argument}='{source}'"
            )
        names = [f"frame {i}" for i in range(len(frames))]
    else:
        raise ValueError(
            f"`{argument}` must be a folder of frames or a file ending in {_suffixes()}. "
            f"Received: {argument}='{source}'"
        )
    if not frames:
        raise ValueError(
            f"`{argument}` holds no frames (image files in a folder, or frames in a file). "
            f"Received: {argument}='{source}'"
        )
    first = frames[0].shape
    for name, frame in zip(names, frames):
        if frame.shape != first:
            raise ValueError(
                f"`{argument}` frames must all have one size: {names[0]} is "
                f"{first[1]} x {first[0]}, {name} is {frame.shape[1]} x {frame.shape[0]}. "
                f"Received: {argument}='{source}'"
            )
    return [np.ascontiguousarray(f, np.uint8) for f in frames], fps


def check_output(
    path: str | os.PathLike, argument: str = "output", *, inputs=(), refuse_existing=None
) -> Path:
    """Checks, without writing, that painted frames can be written at `path` (a folder of
    PNGs, an animation or a video file) and replace none of `inputs`."""
    path = Path(path)
    how = kind(path)
    if how == "folder":
        paths.check_output_directory(path, argument, inputs=inputs)
        if refuse_existing and path.is_dir() and any(path.glob("frame_*.png")):
            raise ValueError(
                f"`{argument}` already holds frames and {refuse_existing} asks not to replace "
                f"them. Received: {argument}='{path}'"
            )
        return path
    if how == "unknown":
        raise ValueError(
            f"`{argument}` must be a folder or a file ending in {_suffixes()}. "
            f"Received: {argument}='{path}'"
        )
    if how == "video":
        require_opencv()
    return paths.check_output_file(path, argument, inputs=inputs, refuse_existing=refuse_existing)


def write_frames(path: str | os.PathLike, frames, fps: float = DEFAULT_FPS) -> Path:
    """Writes `uint8 (H, W, 3)` frames to a folder (`frame_00000.png`, ...), an animation
    (GIF/WebP, looping) or a video file; each file appears whole or not at all.

    Raises:
        WriteError: a file could not be written (an earlier one at `path` is intact).
    """
    path = Path(path)
    frames = [images_lib.to_uint8(frame) for frame in frames]
    how = kind(path)
    if how == "folder":
        path.mkdir(parents=True, exist_ok=True)
        for index, frame in enumerate(frames):
            images_lib.save_image(path / FRAME_NAME.format(index), frame)
        return path
    if how == "animation":
        pictures = [Image.fromarray(frame, "RGB") for frame in frames]
        with atomic_write(path, "the animation") as handle:
            pictures[0].save(
                handle,
                format=images_lib.output_format(path),
                save_all=True,
                append_images=pictures[1:],
                duration=round(1000.0 / fps),
                loop=0,
            )
        return path
    cv2 = require_opencv()
    height, width = frames[0].shape[:2]
    # OpenCV writes to a name (its suffix picks the container): a temporary one beside the
    # output, renamed onto it when complete.
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name[:40]}.", suffix=path.suffix, dir=path.parent
    )
    os.close(descriptor)
    try:
        writer = cv2.VideoWriter(
            temporary, cv2.VideoWriter_fourcc(*_FOURCC[path.suffix.lower()]), fps, (width, height)
        )
        if not writer.isOpened():
            raise OSError(f"OpenCV cannot encode {path.suffix} here")
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        if os.path.getsize(temporary) == 0:
            raise OSError("the encoder wrote nothing")
        os.replace(temporary, path)
    except OSError as error:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise WriteError("the video", path, error) from None
    return path


# === Flow ===


def _grey(image) -> np.ndarray:
    cv2 = require_opencv()
    return cv2.cvtColor(images_lib.to_uint8(image), cv2.COLOR_RGB2GRAY)


def optical_flow(source, target) -> np.ndarray:
    """Dense optical flow from `source` to `target` (RGB `(H, W, 3)`), float32 `(H, W, 2)`:
    `source(x) ~ target(x + flow[x])`, in pixels, `(dx, dy)`.

    OpenCV's DIS flow (Kroeger et al. 2016) at its "medium" preset: fast on a CPU and good on
    the smooth motion of a clip. Ruder et al. used DeepFlow and EpicFlow, which are slower.
    """
    cv2 = require_opencv()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_grey(source), _grey(target), None).astype(np.float32)


def warp(image, flow) -> np.ndarray:
    """`image` moved along `flow`: `out[x] = image[x + flow[x]]`, bilinear, the border
    repeated where `x + flow[x]` falls outside. `image` is `(H, W, C)` (or `(H, W)`) of any
    float values; the result is float32 of the same shape."""
    image = np.asarray(image, np.float32)
    flow = np.asarray(flow, np.float32)
    height, width = flow.shape[:2]
    if image.shape[:2] != (height, width):
        raise ValueError(
            f"`flow` must match the image's size {image.shape[1]} x {image.shape[0]}. "
            f"Received: flow of shape {flow.shape}"
        )
    cv2 = require_opencv()
    grid_x, grid_y = np.meshgrid(
        np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)
    )
    map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
    channels = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[-1])]
    # OpenCV's remap takes at most 4 channels at once: one channel at a time.
    warped = [
        cv2.remap(c, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        for c in channels
    ]
    return warped[0] if image.ndim == 2 else np.stack(warped, axis=-1)


def consistency_mask(forward, backward) -> np.ndarray:
    """Where the flow into a frame can be trusted: float32 `(H, W)` of 1 and 0.

    Args:
        forward: flow from the previous frame to this one (`optical_flow(previous, this)`).
        backward: flow from this frame to the previous one (`optical_flow(this, previous)`).

    Ruder et al.'s two tests, at each pixel `x` of this frame, with `b = backward[x]` and
    `f = forward[x + b]` (the forward flow brought to this frame):

    - disocclusion: `|f + b|^2 > 0.01 (|f|^2 + |b|^2) + 0.5` (following the flow there and
      back does not come back: the pixel was hidden in the previous frame);
    - motion boundary: `|grad b_x|^2 + |grad b_y|^2 > 0.01 |b|^2 + 0.002`.

    0 where either holds, 1 elsewhere.
    """
    forward = np.asarray(forward, np.float32)
    backward = np.asarray(backward, np.float32)
    brought = warp(forward, backward)
    there_and_back = np.sum(np.square(brought + backward), axis=-1)
    lengths = np.sum(np.square(brought), axis=-1) + np.sum(np.square(backward), axis=-1)
    disoccluded = there_and_back > 0.01 * lengths + 0.5
    gradient = 0.0
    for channel in range(2):
        dy, dx = np.gradient(backward[..., channel])
        gradient = gradient + np.square(dx) + np.square(dy)
    boundary = gradient > 0.01 * np.sum(np.square(backward), axis=-1) + 0.002
    return np.where(disoccluded | boundary, 0.0, 1.0).astype(np.float32)


def novelty(previous_frame, frame, backward, low: float = 8.0, high: float = 32.0) -> np.ndarray:
    """How new each pixel of `frame` is: float32 `(H, W)` in [0, 1].

    0 where `previous_frame` moved along `backward` (`optical_flow(frame, previous_frame)`)
    shows what `frame` shows, 1 where the two differ by `high` or more (mean over the RGB
    channels, of 255), linear between `low` and `high`; widened by 2 pixels, since a painted
    pixel also depends on its neighbours. Unlike `consistency_mask`, this stays 0 on a still
    background whose flow is noisy, and it catches what the flow got wrong.
    """
    cv2 = require_opencv()
    moved = warp(np.asarray(previous_frame, np.float32), backward)
    difference = np.mean(np.abs(moved - np.asarray(frame, np.float32)), axis=-1)
    new = np.clip((difference - low) / (high - low), 0.0, 1.0).astype(np.float32)
    return cv2.dilate(new, np.ones((5, 5), np.uint8))
