"""The plots of the HTML report: ULP-error histograms per adapter (matplotlib, embedded as PNG).

Drawn with matplotlib's object API (no pyplot, so no global state or GUI
backend). Each figure shows, per loss x dtype, the worst ULP error of each
case on power-of-two bins (0, <=1/2, <=1, <=2, ...), stacked by outcome, with
the budget as a dashed line when the panel has a single budget.
``outcome_matrix_png`` (one image of every case x adapter) is kept for
callers; the page shows an HTML table instead, readable at any size.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from .schema import OUTCOMES, as_float

__all__ = ["have_matplotlib", "outcome_matrix_png", "ulp_histogram_png", "OUTCOME_COLORS"]

OUTCOME_COLORS: dict[str, str] = {
    "passed": "#2e9e44", "failed": "#d62728", "skipped": "#c7c7c7", "xfailed": "#f5b041",
    "xpassed": "#9467bd", "error": "#ff7f0e", "crashed": "#111111", "timeout": "#8c564b",
}
"""The colour of each outcome in the plots and tables."""

_MISSING_COLOR = "#ffffff"
_MAX_POW2 = 16


def have_matplotlib() -> bool:
    """Whether matplotlib can be imported (the plots of the HTML report need it)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def _columns(verdicts: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    return sorted({(v["adapter"], v["profile"]) for v in verdicts})


def outcome_matrix_png(verdicts: Sequence[Mapping[str, Any]]) -> bytes | None:
    """A PNG of the outcome of every case (rows) under every (adapter, profile) (columns); None if no verdicts."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if not verdicts:
        return None
    cols = _columns(verdicts)
    cases = sorted({v["case"] for v in verdicts})
    code = {o: i + 1 for i, o in enumerate(OUTCOMES)}
    grid = [[0] * len(cols) for _ in cases]
    row_of = {c: i for i, c in enumerate(cases)}
    col_of = {c: j for j, c in enumerate(cols)}
    for v in verdicts:
        grid[row_of[v["case"]]][col_of[(v["adapter"], v["profile"])]] = code[v["outcome"]]
    labelled = len(cases) <= 150
    # up to 150 cases every row is labelled; beyond, rows get thinner and every k-th case is labelled
    step = 1 if labelled else math.ceil(len(cases) / 60)
    row_h = 0.17 if labelled else 12.0 / len(cases)
    longest = max(len(c) for c in cases)
    width = min(4.0 + 0.07 * longest + 0.9 * len(cols), 16.0)
    height = 2.2 + row_h * len(cases)
    fig = _figure(width, height)
    ax = fig.add_subplot()
    cmap = ListedColormap([_MISSING_COLOR] + [OUTCOME_COLORS[o] for o in OUTCOMES])
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=len(OUTCOMES), aspect="auto", interpolation="nearest")
    multi_profile = len({p for _, p in cols}) > 1
    ax.set_xticks(range(len(cols)), [f"{a}\n{p}" if multi_profile else a for a, p in cols],
                  rotation=30 if len(cols) > 4 else 0, ha="right" if len(cols) > 4 else "center", fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(0, len(cases), step), cases[::step], fontsize=7 if labelled else 6)
    if not labelled:
        ax.set_ylabel(f"{len(cases)} cases (every {step}th labelled)", fontsize=8)
    ax.set_xticks([x - 0.5 for x in range(1, len(cols))], minor=True)
    ax.grid(which="minor", axis="x", color="white", linewidth=2)
    ax.tick_params(which="minor", length=0)
    present = [o for o in OUTCOMES if o in {v["outcome"] for v in verdicts}]
    handles = [Patch(color=OUTCOME_COLORS[o], label=o) for o in present]
    if any(0 in row for row in grid):
        handles.append(Patch(facecolor=_MISSING_COLOR, edgecolor="#999999", label="not run"))
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5), fontsize=8, frameon=False)
    return _png(fig)


def _bins(values: Sequence[float]) -> tuple[list[float], list[str]]:
    # upper edges: 0, 1/2, 1, 2, 4, ..., then one bin for everything above and non-finite values
    finite = [x for x in values if math.isfinite(x)]
    top = max(finite, default=0.0)
    k = 0
    while 2.0 ** k < top and k < _MAX_POW2:
        k += 1
    edges = [0.0, 0.5] + [2.0 ** i for i in range(0, k + 1)]
    labels = ["0", "≤½"] + [f"≤{int(2 ** i)}" for i in range(0, k + 1)]
    over = any(not math.isfinite(x) or x > edges[-1] for x in values)
    if over:
        labels.append(f">{int(edges[-1])}" if top > edges[-1] else "∞/nan")
    return edges, labels


def _bin_index(x: float, edges: Sequence[float]) -> int:
    if not math.isfinite(x):
        return len(edges)
    for i, edge in enumerate(edges):
        if x <= edge:
            return i
    return len(edges)


def ulp_histogram_png(verdicts: Sequence[Mapping[str, Any]], adapter: str) -> bytes | None:
    """A PNG of histograms of each case's worst ULP error for one adapter, one panel per loss x dtype.

    Bars are stacked by outcome; verdicts without an error (skipped, crashed,
    ...) are left out. A dashed line marks the budget when a panel has one. Returns None when the adapter has no ULP errors.
    """
    from matplotlib.patches import Patch

    groups: dict[tuple[str, str], list[tuple[float, str]]] = {}
    budgets: dict[tuple[str, str], set[float]] = {}
    for v in verdicts:
        if v["adapter"] != adapter or v.get("loss") == "*" or v.get("dtype") == "*":  # spans losses/dtypes
            continue
        u = as_float(v.get("max_ulp_error"))
        if u is None:
            continue
        key = (v["loss"], v["dtype"])
        groups.setdefault(key, []).append((math.inf if u != u else u, v["outcome"]))
        for e in v.get("elements") or ():
            b = as_float(e.get("budget_ulps"))
            if b is not None and math.isfinite(b):
                budgets.setdefault(key, set()).add(b)
    if not groups:
        return None
    # one set of bins for the whole figure, so that panels compare at a glance
    edges, labels = _bins([u for pairs in groups.values() for u, _ in pairs])
    ncols = min(3, len(groups))
    nrows = math.ceil(len(groups) / ncols)
    fig = _figure(4.2 * ncols, 0.6 + 2.9 * nrows)
    fig.suptitle(f"{adapter}: worst ULP error per case", fontsize=11)
    for n, ((loss, dtype), pairs) in enumerate(sorted(groups.items())):
        ax = fig.add_subplot(nrows, ncols, n + 1)
        bottoms = [0] * len(labels)
        for outcome in OUTCOMES:
            counts = [0] * len(labels)
            for u, o in pairs:
                if o == outcome:
                    counts[_bin_index(u, edges)] += 1
            if any(counts):
                ax.bar(range(len(labels)), counts, bottom=bottoms, color=OUTCOME_COLORS[outcome],
                       label=outcome, width=0.85)
                bottoms = [b + c for b, c in zip(bottoms, counts)]
        budget = budgets.get((loss, dtype), set())
        if len(budget) == 1:
            (b,) = budget
            x = _bin_index(b, edges) + 0.5
            ax.axvline(x, color="#555555", linestyle="--", linewidth=1)
            ax.text(x, 0.98, f"budget {b:g} ", transform=ax.get_xaxis_transform(), fontsize=7,
                    va="top", ha="right", color="#555555")
        ax.margins(y=0.15)  # room for the budget label above the tallest bar
        ax.set_xticks(range(len(labels)), labels, fontsize=7, rotation=45 if len(labels) > 12 else 0)
        ax.set_title(f"{loss}\n{dtype} ({len(pairs)} case{'s' if len(pairs) != 1 else ''})", fontsize=9)
        ax.set_xlabel("ULP error", fontsize=8)
        ax.set_ylabel("cases", fontsize=8)
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.tick_params(axis="y", labelsize=7)
        ax.spines[["top", "right"]].set_visible(False)
    present = [o for o in OUTCOMES if any(o == out for pairs in groups.values() for _, out in pairs)]
    handles = [Patch(color=OUTCOME_COLORS[o], label=o) for o in present]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False)
    return _png(fig)
