"""Figures (matplotlib, Agg backend, SVG): scores with intervals per benchmark, F1 per subset.

Labels are model names, which are untrusted text: '$' is escaped so matplotlib never reads
them as mathtext, and the SVGs are shown through <img>, where no script can run.
"""

from __future__ import annotations

from pathlib import Path

COLORS = {"original": "#3b5b92", "citing": "#8da2c7", "third-party": "#d08c2c", "reproduced": "#2e8b57"}
ROLE_NAMES = {"original": "reported", "citing": "reported (quoted)", "third-party": "third-party",
              "reproduced": "reproduced"}
SUBSET_PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666"]
MAX_ROWS = 40


def _mpl():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({
        "svg.fonttype": "none", "font.size": 9, "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
        "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#888888",
        "axes.titlesize": 10, "axes.titleweight": "bold", "svg.hashsalt": "leaderboard",
    })
    return plt


def _label(text: str, limit: int = 48) -> str:
    text = text.replace("$", r"\$").replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _margins(fig, labels: list[str], height_in: float, top_in: float = 0.62, bottom_in: float = 0.5) -> None:
    """Fixed margins from the longest label (tight_layout measures every text: slow)."""
    longest = max((len(x) for x in labels), default=10)
    left = min(0.58, (0.15 + 0.056 * longest) / fig.get_figwidth())
    fig.subplots_adjust(left=left, right=0.97, top=1 - top_in / height_in, bottom=bottom_in / height_in)


def scores_plot(path: Path, title: str, xlabel: str, items: list[dict]) -> bool:
    """items: {label, value, interval|None, role}; best first. Returns False when nothing to draw."""
    items = [i for i in items if i["value"] is not None]
    if not items:
        return False
    n_all = len(items)
    items = sorted(items, key=lambda i: -i["value"])[:MAX_ROWS]
    plt = _mpl()
    h = 1.2 + 0.22 * len(items)
    fig, ax = plt.subplots(figsize=(7.2, h))
    ys = list(range(len(items)))[::-1]
    lows = [i["interval"][0] if i.get("interval") else i["value"] for i in items]
    highs = [i["interval"][1] if i.get("interval") else i["value"] for i in items]
    lo, hi = min(lows), max(highs)
    pad = max(1.0, (hi - lo) * 0.08)
    colors = [COLORS.get(it["role"], "#555555") for it in items]
    vals = [it["value"] for it in items]
    ax.hlines(ys, lo - pad, vals, color="#eceef2", linewidth=0.8, zorder=1)
    with_iv = [(y, it, c) for y, it, c in zip(ys, items, colors) if it.get("interval")]
    if with_iv:
        ax.hlines([y for y, _, _ in with_iv], [it["interval"][0] for _, it, _ in with_iv],
                  [it["interval"][1] for _, it, _ in with_iv], colors=[c for _, _, c in with_iv],
                  linewidth=2.2, alpha=0.55, zorder=2)
    ax.scatter(vals, ys, s=22, c=colors, zorder=3)
    for y, it, top in zip(ys, items, highs):
        ax.text(top + pad * 0.15, y, f"{it['value']:.1f}", va="center", ha="left", fontsize=7, color="#444444")
    ax.set_yticks(ys)
    ax.set_yticklabels([_label(i["label"]) for i in items], fontsize=7.5)
    ax.set_ylim(-0.7, len(items) - 0.3)
    ax.set_xlim(lo - pad, hi + pad * 2.2)
    ax.set_xlabel(_label(xlabel, 80))
    shown = f" (best {len(items)} of {n_all})" if n_all > len(items) else ""
    fig.suptitle(_label(title, 90) + shown, x=0.01, y=1 - 0.12 / h, ha="left", fontsize=10, fontweight="bold")
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(axis="y", length=0)
    roles = [r for r in COLORS if any(i["role"] == r for i in items)]
    handles = [ax.scatter([], [], s=22, color=COLORS[r], label=ROLE_NAMES[r]) for r in roles]
    if any(i.get("interval") for i in items):
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], color="#777777", linewidth=2.2, alpha=0.55, label="95% interval"))
    return _finish(fig, handles, [i["label"] for i in items], h, path)


def subsets_plot(path: Path, title: str, rows: list[dict], subsets: list[tuple[str, str]]) -> bool:
    """rows: {label, overall, subsets: {subset: value}}; a dot per subset, a bar for overall.
    subsets: (key, title) in the declared order; each gets a colour by its place."""
    colors = {key: SUBSET_PALETTE[i % len(SUBSET_PALETTE)] for i, (key, _) in enumerate(subsets)}
    titles = dict(subsets)
    rows = [r for r in rows if r["subsets"]]
    if not rows:
        return False
    n_all = len(rows)
    rows = sorted(rows, key=lambda r: -(r["overall"] or 0))[:MAX_ROWS]
    plt = _mpl()
    h = 1.2 + 0.24 * len(rows)
    fig, ax = plt.subplots(figsize=(7.2, h))
    ys = list(range(len(rows)))[::-1]
    spans = [(y, [v for v in r["subsets"].values() if v is not None]) for y, r in zip(ys, rows)]
    spans = [(y, v) for y, v in spans if v]
    ax.hlines([y for y, _ in spans], [min(v) for _, v in spans], [max(v) for _, v in spans],
              color="#d5d8de", linewidth=1.2, zorder=1)
    px, py, pc = [], [], []
    for y, r in zip(ys, rows):
        for sname, v in r["subsets"].items():
            if v is not None:
                px.append(v)
                py.append(y)
                pc.append(colors.get(sname, "#777777"))
    ax.scatter(px, py, s=16, c=pc, zorder=3)
    ov = [(r["overall"], y) for y, r in zip(ys, rows) if r["overall"] is not None]
    if ov:
        ax.scatter([v for v, _ in ov], [y for _, y in ov], s=60, marker="|", color="#111111", linewidths=1.8, zorder=4)
    ax.set_yticks(ys)
    ax.set_yticklabels([_label(r["label"]) for r in rows], fontsize=7.5)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("F1 (%)")
    ax.tick_params(axis="y", length=0)
    shown = f" (best {len(rows)} of {n_all})" if n_all > len(rows) else ""
    fig.suptitle(_label(title, 90) + shown, x=0.01, y=1 - 0.12 / h, ha="left", fontsize=10, fontweight="bold")
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    present = [s for s in colors if any(s in r["subsets"] for r in rows)]
    handles = [ax.scatter([], [], s=16, color=colors[s], label=titles.get(s, s)) for s in present]
    handles.append(ax.scatter([], [], s=60, marker="|", color="#111111", label="overall"))
    return _finish(fig, handles, [r["label"] for r in rows], h, path)


def _finish(fig, handles, labels: list[str], h: float, path: Path) -> bool:
    """Legend on top, margins fitted to the labels, written as a reproducible SVG."""
    plt = _mpl()
    fig.legend(handles=handles, fontsize=7, loc="upper left", ncol=len(handles), frameon=False,
               bbox_to_anchor=(0.0, 1 - 0.3 / h))
    _margins(fig, [_label(label) for label in labels], h)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    return True
