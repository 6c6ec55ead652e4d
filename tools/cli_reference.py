"""Writes docs/cli.md, the command-line reference, from the command line's own parsers, which
are built from the table of settings (`keras_nst.settings`): the page cannot drift from the
options. `python tools/cli_reference.py` writes it; `--check` exits with 1 where it is stale
(the tests and `make docs` run that).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "cli.md"

HEADER = """# Command-line reference

*Generated from the command line's parsers by `tools/cli_reference.py`; do not edit by hand.*

Every option is a setting of one table (`keras_nst.settings`): `--style-weight` is
`style_weight` in Python, in a `--task` file and in a preset. An option given on the command
line wins over `--task`, which wins over `--preset`, which wins over the defaults. Exit codes:
0 done, 1 failure, 2 bad input, 3 NaN or Inf loss, 130/143 stopped by SIGINT/SIGTERM with a
checkpoint. `python -m keras_nst` is the same command.
"""


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _names(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.dest.upper()}`"
    names = ", ".join(action.option_strings)
    if action.nargs == 0:
        return f"`{names}`"
    metavar = action.metavar or action.dest.upper()
    return f"`{names} {metavar}`"


def _synopsis(parser: argparse.ArgumentParser) -> str:
    words = []
    for action in parser._actions:
        if action.option_strings:
            if action.required:
                words.append(f"{action.option_strings[-1]} {action.metavar or action.dest.upper()}")
            continue
        name = action.dest.upper()
        words.append(
            {"?": name, "*": f"[{name} ...]", "+": f"{name} [{name} ...]"}.get(action.nargs, name)
        )
    return " ".join(words + ["[options]"])


def render() -> str:
    from keras_nst import cli

    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    parts = [HEADER]
    for name, command in commands.choices.items():
        usage = f"keras-nst {name} {_synopsis(command)}"
        rows = [
            f"| {_names(action)} | {_cell(action.help or '')} |"
            for action in command._actions
            if action.help != argparse.SUPPRESS and not isinstance(action, argparse._HelpAction)
        ]
        parts.append(
            f"## keras-nst {name}\n\n{_cell(command.description or '')}\n\n"
            f"```text\n{usage}\n```\n\n| argument | meaning |\n|---|---|\n" + "\n".join(rows) + "\n"
        )
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE.name} is stale: run python tools/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
