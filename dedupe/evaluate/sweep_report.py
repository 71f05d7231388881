"""Sweep outputs: ``sweep.parquet``/``sweep.csv``, PNG plots, ``pairs.html``, ``report.md``."""

from __future__ import annotations

import html
import os

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dedupe.explain import word_diff
from dedupe.near.lsh import collision_probability

__all__ = ["write_sweep"]


def _figure(figsize: tuple[float, float]):
    """A figure drawn by the Agg canvas alone: no pyplot, so the caller's backend and open
    figures are untouched and nothing is kept alive after ``savefig``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig


def _variants(rows):
    keys = sorted({(r["shingle"], r["ngram"], r["num_perm"]) for r in rows})
    return [(k, sorted((r for r in rows if (r["shingle"], r["ngram"], r["num_perm"]) == k),
                       key=lambda r: r["threshold"])) for k in keys]


def _label(key) -> str:
    return f"{key[0]} {key[1]}-grams, {key[2]} perms"


def plot_scores(rows, path: str) -> None:
    """Precision, recall and F1 against threshold, one panel per shingling."""
    variants = _variants(rows)
    cols = min(3, len(variants))
    nrows = (len(variants) + cols - 1) // cols
    fig = _figure((4.2 * cols, 3.4 * nrows))
    axes = fig.subplots(nrows, cols, squeeze=False, sharey=True)
    for ax, (key, rs) in zip(axes.flat, variants):
        t = [r["threshold"] for r in rs]
        for name, style in (("precision", "--"), ("recall", ":"), ("f1", "-")):
            ax.plot(t, [r[name] for r in rs], style, label=name, linewidth=2)
        best = max(rs, key=lambda r: r["f1"])
        ax.axvline(best["threshold"], color="grey", alpha=0.4)
        ax.set_title(f"{_label(key)}\nbest F1 {best['f1']:.3f} at {best['threshold']:.2f}",
                     fontsize=9)
        ax.set_xlabel("threshold (Jaccard)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(variants):]:
        ax.axis("off")
    axes.flat[0].set_ylabel("score")
    axes.flat[0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_s_curve(hist: np.ndarray, bands: int, rows: int, threshold: float, key,
                 path: str) -> None:
    """The S-curve of the chosen b x r over the histogram of candidate-pair similarity
    (``hist``: pairs per bin of equal width over 0..1)."""
    fig = _figure((7, 4))
    ax = fig.subplots()
    hist = np.asarray(hist)
    if hist.sum():
        width = 1.0 / len(hist)
        ax.bar(np.arange(len(hist)) * width, hist, width=width, align="edge", color="#8ab",
               edgecolor="white")
        ax.set_yscale("log")
    ax.set_xlabel("estimated Jaccard of candidate pairs")
    ax.set_ylabel("candidate pairs (log)")
    ax2 = ax.twinx()
    s = np.linspace(0, 1, 201)
    ax2.plot(s, collision_probability(s, bands, rows), color="#c33", linewidth=2,
             label=f"P(candidate), {bands} x {rows}")
    ax2.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.2f}")
    ax2.set_ylabel("probability of becoming a candidate")
    ax2.set_ylim(0, 1.02)
    ax2.legend(loc="upper left", fontsize=8)
    ax.set_title(f"{_label(key)}: similarity of LSH candidates and the S-curve", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_removal(rows, path: str) -> None:
    fig = _figure((7, 4))
    ax = fig.subplots()
    for key, rs in _variants(rows):
        ax.plot([r["threshold"] for r in rs], [r["removed_fraction"] for r in rs], marker=".",
                label=_label(key))
    ax.set_xlabel("threshold (Jaccard)")
    ax.set_ylabel("fraction of rows removed")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Rows removed at each threshold", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _diff_html(a: str, b: str, limit: int = 3000) -> tuple[str, str]:
    left, right = [], []
    for tag, x, y in word_diff(a[:limit], b[:limit]):
        if tag == "equal":
            left.append(html.escape(x))
            right.append(html.escape(y))
        else:
            if x:
                left.append(f"<del>{html.escape(x)}</del>")
            if y:
                right.append(f"<ins>{html.escape(y)}</ins>")
    return "".join(left), "".join(right)


def write_pairs_html(pairs, path: str) -> None:
    """Sampled candidate pairs per similarity band, side by side, differences highlighted."""
    parts = ["<!doctype html><meta charset='utf-8'><title>dedupe sweep: sampled pairs</title>",
             "<style>body{font-family:sans-serif;margin:2em}td{vertical-align:top;width:50%;"
             "white-space:pre-wrap;font-size:13px;border:1px solid #ccc;padding:6px}"
             "del{background:#fbb;text-decoration:none}ins{background:#bfb;"
             "text-decoration:none}h2{margin-top:2em}</style>",
             "<h1>Candidate pairs by estimated similarity</h1><p>Red: only on the left; "
             "green: only on the right. Judge where pairs stop being duplicates.</p>"]
    band = None
    for p in pairs:
        if p["band"] != band:
            band = p["band"]
            parts.append(f"<h2>Estimated Jaccard {band}</h2>")
        a, b = _diff_html(p["text_a"], p["text_b"])
        parts.append(f"<p>{html.escape(str(p['id_a']))} vs {html.escape(str(p['id_b']))}: "
                     f"estimated Jaccard {p['similarity']:.3f}</p><table><tr><td>{a}</td>"
                     f"<td>{b}</td></tr></table>")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts))


def write_sweep(result, out: str, compression: str = "zstd") -> dict[str, str]:
    """Write every sweep output into ``out`` and return their names."""
    rows = result.table.to_pylist()
    pq.write_table(result.table, os.path.join(out, "sweep.parquet"), compression=compression)
    pacsv.write_csv(result.table, os.path.join(out, "sweep.csv"))
    files = {"table": "sweep.parquet, sweep.csv"}
    if result.labelled:
        plot_scores(rows, os.path.join(out, "scores.png"))
        files["scores"] = "scores.png"
    plot_removal(rows, os.path.join(out, "removal.png"))
    files["removal"] = "removal.png"
    ref = result.best or _middle(rows)
    key = (ref["shingle"], ref["ngram"], ref["num_perm"])
    plot_s_curve(result.similarities.get(key, np.zeros(1)), ref["bands"], ref["rows"],
                 ref["threshold"], key, os.path.join(out, "s_curve.png"))
    files["s_curve"] = "s_curve.png"
    write_pairs_html(result.pairs, os.path.join(out, "pairs.html"))
    files["pairs"] = "pairs.html"
    with open(os.path.join(out, "report.md"), "w", encoding="utf-8") as fh:
        fh.write(_markdown(result, rows, ref, files))
    return files


def _middle(rows):
    return sorted(rows, key=lambda r: r["threshold"])[len(rows) // 2]


def _fmt(v) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"


def _markdown(result, rows, ref, files) -> str:
    lines = ["# dedupe sweep", ""]
    if result.best:
        b = result.best
        lines += [f"**Best setting by F1**: {b['shingle']} {b['ngram']}-grams, {b['num_perm']} "
                  f"permutations, threshold {b['threshold']:.2f} (bands x rows {b['bands']} x "
                  f"{b['rows']}): precision {_fmt(b['precision'])}, recall {_fmt(b['recall'])}, "
                  f"F1 {_fmt(b['f1'])}, ARI {_fmt(b['ari'])}, {b['removed_fraction']:.1%} of "
                  "rows removed.", "", "![precision, recall and F1](scores.png)", ""]
    else:
        lines += ["No labels were given: the table shows how many rows each threshold would "
                  "remove; `pairs.html` shows sampled candidate pairs from each similarity band "
                  "so that you can judge where duplicates stop.", ""]
    lines += ["![candidate similarity and S-curve](s_curve.png)", "",
              "![rows removed](removal.png)", "",
              "| shingle | ngram | num_perm | threshold | b x r | precision | recall | F1 | ARI "
              "| removed | seconds |", "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['shingle']} | {r['ngram']} | {r['num_perm']} | {r['threshold']:.2f} "
                     f"| {r['bands']} x {r['rows']} | {_fmt(r['precision'])} "
                     f"| {_fmt(r['recall'])} | {_fmt(r['f1'])} | {_fmt(r['ari'])} "
                     f"| {r['removed_fraction']:.3f} | {r['seconds']:.2f} |")
    lines += ["", "Files: " + "; ".join(f"{k}: {v}" for k, v in files.items()), ""]
    return "\n".join(lines)
