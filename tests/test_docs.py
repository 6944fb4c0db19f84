"""The README and docs/ stay true: every command they show parses, and every figure the README states
comes from a file under bench/results/ that its paragraph (or table row) names."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMMAND = re.compile(r"^(?:[A-Z_]+=\S+\s+)*(mnist-search|python -m search(?:\.run|\.report)?)(?=\s|$)(.*)$")
FIGURE = re.compile(r"(?<![\w.,/=-])\d[\d,]*(?:\.\d+)?(?:%| min\b| s\b)")
RESULT_FILE = re.compile(r"bench/results/[\w./-]+\w")


def fenced_lines(page: Path) -> list[str]:
    """The lines of the page's fenced blocks, backslash continuations joined, comments dropped."""
    lines, inside, pending = [], False, ""
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        if not inside:
            continue
        line = pending + line.split(" #", 1)[0].strip()
        pending = line[:-1] + " " if line.endswith("\\") else ""
        if not pending:
            lines.append(line)
    return lines


def shown_commands() -> list[tuple[str, str, str]]:
    found = []
    for page in PAGES:
        for line in fenced_lines(page):
            for part in line.split(" -- "):  # ray job submit ... -- python -m search.run ...
                match = COMMAND.match(part.strip())
                if match:
                    found.append((page.name, match.group(1), match.group(2)))
    return found


def test_the_pages_show_commands_of_both_command_lines():
    programs = {program for _, program, _ in shown_commands()}
    assert {"mnist-search", "python -m search.report"} <= programs


@pytest.mark.parametrize(("page", "program", "arguments"), shown_commands())
def test_every_command_shown_parses(page, program, arguments):
    from search import report, run

    parser = report.build_parser() if program.endswith(".report") else run.build_parser(program)
    try:
        parser.parse_args(shlex.split(arguments))
    except SystemExit as error:
        pytest.fail(f"{page}: `{program}{arguments}` does not parse (exit {error.code})")


def figure_units(page: Path) -> list[tuple[int, str]]:
    """Paragraphs and table rows outside fenced blocks, each with its first line's number."""
    units, current, start, inside = [], [], 0, False
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if line.startswith("```"):
            inside = not inside
        if inside or line.startswith("```") or not line.strip() or line.startswith("|"):
            if current:
                units.append((start, " ".join(current)))
                current = []
            if line.startswith("|") and not inside:
                units.append((number, line))
            continue
        if not current:
            start = number
        current.append(line)
    if current:
        units.append((start, " ".join(current)))
    return units


def test_every_figure_in_the_readme_comes_from_the_file_named_beside_it():
    for number, text in figure_units(ROOT / "README.md"):
        figures = FIGURE.findall(text)
        if not figures:
            continue
        files = RESULT_FILE.findall(text)
        assert files, f"README.md:{number} states {figures} but names no file under bench/results/"
        sources = ""
        for name in files:
            path = ROOT / name
            assert path.is_file(), f"README.md:{number} names {name}, which does not exist"
            sources += path.read_text()
        missing = [figure for figure in figures if figure not in sources]
        assert not missing, f"README.md:{number}: {missing} are not in {', '.join(files)}"
