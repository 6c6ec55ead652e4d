"""Path guards: inputs are never outputs, outputs are checked up front, one run per directory."""

import os
import threading
from pathlib import Path

import pytest

from keras_nst import paths


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"not really a jpeg")
    return path


def test_input_must_be_a_regular_file(tmp_path, photo):
    assert paths.check_input_file(photo, "content") == photo
    with pytest.raises(ValueError, match=r"`content` file does not exist\. Received: content="):
        paths.check_input_file(tmp_path / "missing.jpg", "content")
    with pytest.raises(ValueError, match=r"`content` must be a file, not a directory"):
        paths.check_input_file(tmp_path, "content")
    pipe = tmp_path / "pipe.jpg"
    os.mkfifo(pipe)
    with pytest.raises(ValueError, match=r"`style` must be an image file, not a named pipe"):
        paths.check_input_file(pipe, "style", "image file")


def test_a_name_too_long_is_a_value_error(tmp_path):
    long_name = tmp_path / ("x" * 300 + ".jpg")
    with pytest.raises(
        ValueError, match=r"`content` file could not be looked up \(File name too long\)"
    ):
        paths.check_input_file(long_name, "content")
    with pytest.raises(
        ValueError, match=r"`--output` has a name of 304 bytes; this file system allows at most 255"
    ):
        paths.check_output_file(long_name, "--output")
    with pytest.raises(ValueError, match=r"`--logdir` has a name of 304 bytes"):
        paths.check_output_directory(long_name, "--logdir")


@pytest.mark.parametrize("spelling", ["same", "dotdot", "symlink", "hardlink"])
def test_an_output_that_is_an_input_is_refused_however_spelt(tmp_path, photo, spelling):
    (tmp_path / "sub").mkdir()
    output = {
        "same": photo,
        "dotdot": tmp_path / "sub" / ".." / "photo.jpg",
        "symlink": tmp_path / "link.jpg",
        "hardlink": tmp_path / "hard.jpg",
    }[spelling]
    if spelling == "symlink":
        output.symlink_to(photo)
    elif spelling == "hardlink":
        os.link(photo, output)
    with pytest.raises(
        ValueError, match=r"`--output` would write over the `CONTENT` input '.*photo\.jpg'"
    ):
        paths.check_output_file(output, "--output", inputs=[("CONTENT", photo)])


def test_an_existing_output_is_replaced_unless_refused(tmp_path, photo):
    existing = tmp_path / "old.png"
    existing.write_bytes(b"old")
    assert paths.check_output_file(existing, "--output", inputs=[("CONTENT", photo)]) == existing
    with pytest.raises(
        ValueError, match=r"`--output` already exists and --no-clobber asks not to replace it"
    ):
        paths.check_output_file(existing, "--output", refuse_existing="--no-clobber")
    assert existing.read_bytes() == b"old"


def test_output_directories(tmp_path, photo):
    # New and nested: fine, and nothing is created by the check.
    new = tmp_path / "logs" / "run1"
    assert paths.check_output_directory(new, "--logdir", inputs=[("CONTENT", photo)]) == new
    assert not (tmp_path / "logs").exists()
    with pytest.raises(ValueError, match=r"`--logdir` must be a directory, but is a file"):
        paths.check_output_directory(photo, "--logdir")
    with pytest.raises(
        ValueError, match=r"`--checkpoint-dir` must be a directory, but '.*photo\.jpg' is a file"
    ):
        paths.check_output_directory(photo / "checkpoints", "--checkpoint-dir")
    with pytest.raises(ValueError, match=r"`--logdir` holds the `CONTENT` input '.*photo\.jpg'"):
        paths.check_output_directory(tmp_path, "--logdir", inputs=[("CONTENT", photo)])
    # A directory meant to hold an input (the checkpoint a run resumes) may.
    checkpoint = tmp_path / "checkpoint.npz"
    checkpoint.write_bytes(b"")
    assert paths.check_output_directory(
        tmp_path,
        "--checkpoint-dir",
        inputs=[("--resume", checkpoint)],
        may_hold=[("--resume", checkpoint)],
    )
    # Every check leaves the folder as it was.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz", "photo.jpg"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_a_place_nobody_can_write_is_refused_even_for_root():
    with pytest.raises(ValueError, match=r"`--logdir`'s directory is not writable: '/proc'"):
        paths.check_output_directory("/proc/keras-nst-logs", "--logdir")
    with pytest.raises(ValueError, match=r"`--output`'s directory is not writable"):
        paths.check_output_file("/proc/out.png", "--output")


def test_an_output_file_and_an_output_directory_must_differ(tmp_path):
    out = tmp_path / "out.png"
    with pytest.raises(ValueError, match=r"`--output` and `--logdir` must be different places"):
        paths.check_distinct([("--output", out)], [("--logdir", out)])
    paths.check_distinct([("--output", out)], [("--logdir", tmp_path / "logs")])


def test_one_run_per_directory(tmp_path):
    directory = tmp_path / "run.checkpoint"
    paths.check_not_in_use(directory, "--checkpoint-dir")  # nothing there yet
    with paths.exclusive_directory(directory, "--checkpoint-dir"):
        assert directory.is_dir()
        with pytest.raises(
            ValueError, match=r"`--checkpoint-dir` '.*run\.checkpoint' is in use by another run"
        ):
            paths.check_not_in_use(directory, "--checkpoint-dir")
        # From another thread too: the lock belongs to the open directory, not the thread.
        errors = []

        def second():
            try:
                with paths.exclusive_directory(directory, "--checkpoint-dir"):
                    pass
            except ValueError as error:
                errors.append(str(error))

        thread = threading.Thread(target=second)
        thread.start()
        thread.join()
        assert errors and "in use by another run" in errors[0]
    paths.check_not_in_use(directory, "--checkpoint-dir")  # released
