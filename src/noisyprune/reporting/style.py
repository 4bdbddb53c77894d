"""One visual identity per pruner, shared by every plot of a run: the same colour, marker and line
style wherever a pruner appears. Markers and dashes differ between neighbours so that the plots stay
readable when printed in greyscale."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from noisyprune.pruners.registry import REFERENCE_METHOD

# Colour-blind-safe palette (Okabe–Ito, then Tol's muted) — distinct in colour and in lightness.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
    "#332288",
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p")
DASHES = ("-", "--", "-.", ":")
HATCHES = ("", "//", "..", "xx", "\\\\", "oo", "--", "++", "**", "||", "OO", "..//")
REFERENCE_COLOUR = "#555555"


@dataclass(frozen=True)
class Style:
    """How one pruner is drawn: line colour, marker, line style and bar hatch."""

    colour: str
    marker: str
    linestyle: str
    hatch: str


def method_styles(methods: Sequence[str]) -> dict[str, Style]:
    """A ``Style`` per method, by its position in the configured ``methods`` list (so the same
    config gives the same colours in every plot); the ``full`` reference is grey and dotted."""
    styles = {}
    for index, method in enumerate(m for m in methods if m != REFERENCE_METHOD):
        styles[method] = Style(
            colour=PALETTE[index % len(PALETTE)],
            marker=MARKERS[index % len(MARKERS)],
            linestyle=DASHES[index % len(DASHES)],
            hatch=HATCHES[index % len(HATCHES)],
        )
    styles[REFERENCE_METHOD] = Style(REFERENCE_COLOUR, "*", ":", "")
    return styles
