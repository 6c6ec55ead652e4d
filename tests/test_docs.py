"""The documentation: the generated command-line reference is current, every relative link in
the README and under docs/ leads to a file (and heading) that exists, the site's navigation
lists every page, and the import graph that docs/architecture.md draws has no cycles."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _cli_reference():
    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "tools/cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _slug(heading: str) -> str:
    """A heading's anchor as Python-Markdown's toc (MkDocs) and GitHub make it."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"\s+", "-", text)


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#+\s+(.+)$", text, flags=re.M)}


def test_the_command_line_reference_is_generated_from_the_parsers():
    reference = _cli_reference()
    page = (ROOT / "docs/cli.md").read_text(encoding="utf-8")
    assert page == reference.render(), "docs/cli.md is stale: run python tools/cli_reference.py"
    # Every setting with an option in the table of settings is on the page.
    from keras_nst import settings

    for setting in settings.SETTINGS + settings.VIDEO_SETTINGS:
        if setting.flag is not None:
            assert f"{setting.option} " in page, setting.option


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_leads_somewhere(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


def test_the_site_lists_every_page():
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\s+- [^:]+: (\S+\.md)$", config, flags=re.M))
    assert listed == {p.name for p in (ROOT / "docs").glob("*.md")}


def test_the_import_graph_has_no_cycles():
    spec = importlib.util.spec_from_file_location("imports", ROOT / "tools/imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    edges = module.graph()
    assert "model" in edges and "painting" in edges["cli"]
    assert module.cycles(edges) == []
    # The check itself finds a cycle where there is one.
    assert module.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
