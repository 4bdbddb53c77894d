"""Figures the manual quotes come from files under benchmarks/results/, and still stand in them.

Two markers, HTML comments that the rendered pages do not show:

- ``27.4 s<!-- figure: benchmarks/results/api_overhead.csv -->``: the number just before the marker
  (units and ``%`` between them allowed) is quoted from that file;
- ``<!-- table: benchmarks/results/learners.csv -->`` on the line before a Markdown table: every
  number in the table's body (all columns but the first, which names the row) is quoted from it.

A quoted number stands in its file when some number there gives it when rounded to the quoted
decimals, directly or as a percentage (0.739 in a CSV is 73.9 on the page). A figure that is no longer
in its file — the benchmark was rerun, the page was edited by hand — fails the test with page, line
and file.
"""

import re
from pathlib import Path

import pytest
from conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# On the pages, thousands may be grouped (100,000); in data files a comma separates cells.
NUMBER = r"[−-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
PLAIN_NUMBER = r"[−-]?\d+(?:\.\d+)?"
FIGURE = re.compile(rf"({NUMBER})[^\d<>]{{0,12}}?<!-- figure: (\S+) -->")
TABLE = re.compile(r"^<!-- table: (\S+) -->\n((?:\|.*\n?)+)", flags=re.MULTILINE)


def _value(text: str) -> tuple[float, int]:
    """A number as written (thousands separators, a typographic minus) and its decimal places."""
    text = text.replace(",", "").replace("−", "-")
    return float(text), len(text.split(".")[1]) if "." in text else 0


def numbers_in(path: Path) -> list[float]:
    """Every number written in the file (CSV cells, JSON values, Markdown text)."""
    pattern = NUMBER if path.suffix == ".md" else PLAIN_NUMBER
    return [_value(n)[0] for n in re.findall(pattern, path.read_text(encoding="utf-8"))]


def stands_in(quoted: str, values: list[float]) -> bool:
    """Whether the quoted figure is some value of the file, rounded as quoted, or that value in percent."""
    target, places = _value(quoted)
    tolerance = 0.5 * 10**-places + 1e-9
    return any(abs(v - target) <= tolerance or abs(100 * v - target) <= tolerance for v in values)


def quoted_figures(page: Path) -> list[tuple[int, str, str]]:
    """``(line, figure, source file)`` of every marked figure and marked table cell of ``page``."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FIGURE.finditer(text):
        found.append((text.count("\n", 0, match.start()) + 1, match.group(1), match.group(2)))
    for match in TABLE.finditer(text):
        first_line = text.count("\n", 0, match.start()) + 2
        for offset, row in enumerate(match.group(2).splitlines()[2:], start=2):  # after header and rule
            for cell in row.strip().strip("|").split("|")[1:]:
                found += [(first_line + offset, n, match.group(1)) for n in re.findall(NUMBER, cell)]
    return found


def missing_figures(page: Path) -> list[str]:
    """The marked figures of ``page`` that its source files no longer hold."""
    cache: dict[str, list[float]] = {}
    missing = []
    for line, figure, source in quoted_figures(page):
        path = REPO / source
        if not path.is_file():
            missing.append(f"{page.name}:{line}: {source} does not exist")
            continue
        values = cache.setdefault(source, numbers_in(path))
        if not stands_in(figure, values):
            missing.append(f"{page.name}:{line}: {figure} is not in {source}")
    return missing


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_quoted_figures_stand_in_their_files(page):
    missing = missing_figures(page)
    assert not missing, "quoted figures no longer in their files (rerun/requote):\n" + "\n".join(missing)


def test_the_pages_quote_figures_from_the_benchmark_files():
    """The markers are used: the studies, performance and install figures are checked at all."""
    sources = {source for page in PAGES for _, _, source in quoted_figures(page)}
    for expected in (
        "benchmarks/results/install_size.json",
        "benchmarks/results/api_overhead.csv",
        "benchmarks/results/import_cost.json",
        "benchmarks/results/learners.csv",
        "benchmarks/results/screen_fashion/summary.md",
        "benchmarks/results/tau_digits/digits__sym40__ce__elr.md",
    ):
        assert expected in sources
    assert all(source.startswith("benchmarks/results/") for source in sources)


def test_a_figure_missing_from_its_file_is_found(tmp_path, monkeypatch):
    """The check fails a figure its file does not hold, in prose and in a table, and passes rounding
    and percentages."""
    import test_docs_figures as module

    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "r.csv").write_text("method,acc,seconds\nce,0.739,114.9\n")
    page = tmp_path / "page.md"
    page.write_text(
        "CE reaches 73.9%<!-- figure: benchmarks/results/r.csv --> in 115 s<!-- figure: benchmarks/results/r.csv -->,"
        " not 74.2%<!-- figure: benchmarks/results/r.csv -->.\n\n"
        "<!-- table: benchmarks/results/r.csv -->\n| learner | test | s |\n|---|---|---|\n| ce | 73.9 | 99 |\n"
    )
    monkeypatch.setattr(module, "REPO", tmp_path)
    assert missing_figures(page) == [
        "page.md:1: 74.2 is not in benchmarks/results/r.csv",
        "page.md:6: 99 is not in benchmarks/results/r.csv",
    ]
