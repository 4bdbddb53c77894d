"""docs/sizing.md quotes the table benchmarks/sizing.py wrote, not a hand-edited copy."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_sizing_page_quotes_the_generated_table():
    table = (REPO / "benchmarks" / "results" / "sizing.md").read_text().splitlines()
    page = (REPO / "docs" / "sizing.md").read_text().splitlines()
    assert len(table) == 9  # header, rule, the seven shipped paper-scale studies
    missing = [line for line in table if line not in page]
    assert not missing, "docs/sizing.md differs from benchmarks/results/sizing.md; rerun benchmarks/sizing.py"
