"""Task files: the settings of a painting in a TOML or JSON file (`keras-nst ... --task FILE`).

Keys are the settings' names (`style_weight`, `content_layers = { block4_conv2 = 1.0 }`, ...),
the video's included. Every value the file holds is checked when it is read, in the file's
own words (its keys), even where an option on the command line will win over it: a file that
says `size = "big"` is wrong whatever `--size` says. Paths in the file are relative to the
file. TensorFlow-free.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

from keras_nst import paths
from keras_nst import settings as settings_lib
from keras_nst import weights as weights_lib

#: Keys whose values are paths, relative to the file.
PATH_KEYS = ("content", "style", "init", "weights", "output", "logdir")


class TaskFileError(ValueError):
    """A task file's mistake, already in the file's own vocabulary (its keys)."""


def _load(file: Path, path: str) -> dict:
    try:
        if file.suffix.lower() == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                raise ValueError("TOML needs Python 3.11 or newer; use a .json file") from None
            values = tomllib.loads(file.read_text(encoding="utf-8"))
        elif file.suffix.lower() == ".json":
            values = json.loads(file.read_text(encoding="utf-8"))
        else:
            raise ValueError("the name must end in .toml or .json")
    except (ValueError, UnicodeDecodeError) as error:  # TOMLDecodeError is a ValueError
        raise TaskFileError(
            f"`--task` file could not be read ({settings_lib.one_line(error)}). "
            f"Received: --task='{path}'"
        ) from None
    if not isinstance(values, dict):
        raise TaskFileError(
            f"`--task` file must hold a table of settings. Received: --task='{path}'"
        )
    return values


def _check_value(setting, value, path: str) -> None:
    """The setting's own check of a value from the file, its error in the file's words."""
    try:
        if setting.name == "weights":
            weights_lib.check_weights(value, allow_auto=True)
        else:
            setting.check(value, setting.name)
    except ValueError as error:
        raise TaskFileError(
            f"`--task` file: {settings_lib.one_line(error)} in --task='{path}'"
        ) from None


def read(path: str, table: tuple = settings_lib.SETTINGS) -> dict:
    """The settings a task file holds, each checked: keys of `table` only (by default every
    setting of a picture; the video's too where `table` has them), of the types a file may
    give, with values their settings accept.

    Raises:
        TaskFileError: the file cannot be read, or a key or a value is wrong.
    """
    try:
        file = paths.check_input_file(path, "--task")
    except ValueError as error:
        raise TaskFileError(str(error)) from None
    values = _load(file, path)
    by_name = {setting.name: setting for setting in table}
    for key, value in values.items():
        if key not in by_name:
            close = difflib.get_close_matches(key, list(by_name), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise TaskFileError(
                f"`--task` file has an unknown key {key!r}.{hint} Valid keys: "
                f"{', '.join(by_name)}. Received: --task='{path}'"
            )
        setting = by_name[key]
        expected = setting.types
        if isinstance(value, bool) or not isinstance(value, expected):
            names = " or ".join(t.__name__ for t in expected)
            raise TaskFileError(
                f"`--task` key {key!r} must be of type {names}. "
                f"Received: {key}={value!r} in --task='{path}'"
            )
        if setting.parse is settings_lib.optional_text:
            value = values[key] = settings_lib.optional_text(value)  # "none" as on the command line
        if key in PATH_KEYS:
            # Paths in the file are relative to the file.
            def resolve(item, key=key):
                candidate = file.parent / item
                return str(candidate) if key == "output" or os.path.exists(candidate) else item

            value = values[key] = (
                [resolve(v) for v in value] if isinstance(value, list) else resolve(value)
            )
        _check_value(setting, value, path)
    return values
