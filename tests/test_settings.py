"""One table of settings: the task, variants, command line, task files and HParams agree."""

import inspect

import pytest

from keras_nst import StyleTask, painting, settings
from keras_nst.cli import build_parser, main
from keras_nst.task import VARIANT_KEYS


def _help(command):
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    return " ".join(subparsers.choices[command].format_help().split())


def test_every_setting_is_a_command_line_option_with_its_default():
    text = _help("stylize")
    for setting in settings.SETTINGS:
        if setting.flag is None:
            continue
        assert setting.option in text, setting.name
        default = setting.command_line_default
        if default is not None:
            assert f"(default: {settings.show(default)})" in text, setting.name
    sweep = _help("sweep")
    for setting in settings.SETTINGS:
        if setting.sweep:
            assert setting.option in sweep, setting.name


def test_task_and_stylize_keywords_come_from_the_table():
    task_parameters = inspect.signature(StyleTask).parameters
    for setting in settings.TASK_SETTINGS:
        assert task_parameters[setting.name].default == setting.default
    stylize_parameters = inspect.signature(painting.stylize).parameters
    for setting in settings.group("model") + settings.group("painting"):
        assert stylize_parameters[setting.name].default == setting.default
    assert VARIANT_KEYS == tuple(s.name for s in settings.SETTINGS if s.variant)


def test_unknown_keywords_get_a_suggestion(content_path, style_path):
    with pytest.raises(
        ValueError, match=r"`StyleTask` has an unknown setting\. Did you mean 'style_weight'\?"
    ):
        StyleTask(content_path, style_path, size=32, style_wieght=1.0)
    with pytest.raises(
        ValueError, match=r"`stylize` has an unknown setting\. Did you mean 'steps'\?"
    ):
        painting.check(StyleTask(content_path, style_path, size=32), stepz=3)


def test_errors_speak_the_command_lines_language():
    to_cli = settings.to_command_line
    assert to_cli("`style_size` is too large. Received: style_size=9") == (
        "`--style-size` is too large. Received: --style-size=9"
    )
    assert to_cli("`content` image file does not exist. Received: content='x'") == (
        "`CONTENT` image file does not exist. Received: CONTENT='x'"
    )
    assert to_cli("`style[1]` image; `log_dir` and `total_variation_weight`") == (
        "`STYLE[1]` image; `--logdir` and `--tv-weight`"
    )
    # Names inside other names are left alone.
    assert to_cli("`style_size` and noise_ratio=1") == "`--style-size` and --noise-ratio=1"


@pytest.mark.parametrize(
    "argv, message",
    [
        # The command line offers its names, not Python's None.
        (
            ["--weights", "vgg.pth"],
            r"`--weights` must be one of auto, imagenet, vgg16-hed, random or a VGG-19 weight file ending in",
        ),
        # A style image too small for its layers is reported as --style-size, not --size.
        (
            ["--style-size", "8"],
            r"`STYLE` image is 8x6 pixels after resizing; .* Use a larger `--style-size`.*Received: --style-size=8",
        ),
    ],
)
def test_command_line_errors_name_what_was_typed(
    content_path, style_path, tmp_path, capsys, argv, message
):
    import re

    code = main(
        [
            "stylize",
            str(content_path),
            str(style_path),
            "-o",
            str(tmp_path / "o.png"),
            "--size",
            "32",
            *argv,
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert re.search(message, err), err


def test_task_file_precedence_command_line_wins_even_at_its_default(
    content_path, style_path, tmp_path
):
    from keras_nst import cli

    task_file = tmp_path / "task.toml"
    task_file.write_text(
        f'content = "{content_path}"\nstyle = "{style_path}"\nsize = 48\nseed = 5\nsteps = 7\n'
    )
    parser = cli.build_parser()
    args = parser.parse_args(["stylize", "--task", str(task_file), "--size", "512", "--seed", "0"])
    values = cli._settings(args)
    # Given on the command line (even at their defaults): the command line's values.
    assert values["size"] == 512 and values["seed"] == 0
    # Not given: the file's, and the defaults for the rest.
    assert (
        values["steps"] == 7 and values["style_weight"] == settings.BY_NAME["style_weight"].default
    )
