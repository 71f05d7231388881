"""Terminal rendering for the CLI: progress bars per stage, the summary table, explanations.

The library never prints; it calls ``progress(stage, done, total, result)`` if given one.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

__all__ = ["RichProgress", "print_explanation", "print_summary"]


def _compact(n: float) -> str:
    """``950``, ``13.1k``, ``2.46M``: three significant digits and a unit, at most five
    characters for any count below 10**18."""
    units = ("", "k", "M", "G", "T", "P")
    i = 0
    while i < len(units) - 1 and float(f"{n:.3g}") >= 1000:
        n /= 1000
        i += 1
    return f"{n:.3g}{units[i]}"


class _RowsPerSecond(ProgressColumn):
    """Rows done and their rate in a fixed width (``13.1k rows 2.46M/s``), so that a bar keeps
    to one line of an 80-column terminal; blank until a stage reports rows."""

    WIDTH = 20

    def render(self, task) -> Text:
        rows = task.fields.get("rows", 0)
        if not rows:
            return Text(" " * self.WIDTH)
        elapsed = task.elapsed or 0
        rate = f"{_compact(rows / elapsed)}/s" if elapsed > 0 else ""
        return Text(f"{_compact(rows) + ' rows':>11} {rate:>8}", style="cyan")


class _Steps(ProgressColumn):
    """Tasks done of the stage's tasks (``3/40``); ``?`` while the total is not known."""

    def render(self, task) -> Text:
        total = "?" if task.total is None else _compact(task.total)
        return Text(f"{_compact(task.completed)}/{total}".rjust(9), style="progress.download")


def _rows_of(result) -> int:
    if result is None:
        return 0
    if isinstance(result, dict):
        return int(result.get("rows", 0))
    return int(getattr(result, "rows", 0))


class RichProgress:
    """A progress callback that draws one bar per stage (tasks done, rows/s, ETA), each within
    80 columns. A stage announced with ``done == 0`` and no result (the decide stage, which has
    no tasks) shows a moving bar and its elapsed time until it reports ``done``."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description:<11}"),
            BarColumn(bar_width=16),
            _Steps(),
            _RowsPerSecond(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._tasks: dict[str, int] = {}
        self._started = time.perf_counter()

    def __enter__(self):
        self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self._progress.__exit__(*exc)

    def __call__(self, stage: str, done: int, total: int, result) -> None:
        running = done == 0 and result is None  # started, size unknown: a moving bar
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(stage, total=None if running else total,
                                                         rows=0)
        tid = self._tasks[stage]
        rows = self._progress.tasks[tid].fields.get("rows", 0) + _rows_of(result)
        self._progress.update(tid, completed=done, total=None if running else total, rows=rows)


def print_summary(report, console: Console | None = None) -> None:
    console = console or Console()
    table = Table(title=f"dedupe run -> {report.out}", show_lines=False)
    table.add_column("action")
    table.add_column("rows", justify="right")
    table.add_column("share", justify="right")
    for action, n in report.counts.items():
        share = n / report.rows if report.rows else 0
        table.add_row(action, f"{n:,}", f"{share:.1%}")
    console.print(table)
    lsh = report.lsh
    curve = "  ".join(f"J={k}: {v:.2f}" for k, v in lsh["s_curve"].items())
    console.print(f"bands x rows = {lsh['bands']} x {lsh['rows']}")
    console.print(f"P(candidate): {curve}")
    if report.spans:
        rep, bp = report.spans.get("repeat", {}), report.spans.get("boilerplate", {})
        near = report.spans.get("near_passage", {})
        passages = (f", {near.get('spans', 0):,} near-duplicate passages in "
                    f"{near.get('documents', 0):,} pages" if "passages" in report.spans else "")
        console.print(f"spans: {rep.get('spans', 0):,} repeated inside pages, "
                      f"{bp.get('spans', 0):,} boilerplate in {bp.get('documents', 0):,} pages"
                      f"{passages} -> {report.out}/spans.parquet")
    if "index_removed" in lsh:
        console.print(f"against {', '.join(report.outputs.get('against', []))}: "
                      f"{lsh['index_removed']:,} rows removed ({lsh['index_exact']:,} exact; "
                      f"{lsh['index_matches']:,} matched an index document themselves)")
    if "index" in report.outputs:
        ix = report.outputs["index"]
        from dedupe.report import INDEX_VERBS

        verb = INDEX_VERBS.get(ix["mode"], ix["mode"])
        console.print(f"index: {ix['rows']:,} kept rows {verb} {ix['path']}")
    stages = "  ".join(f"{s['name']} {s['seconds']:.1f}s" for s in report.stages)
    console.print(f"{report.rows:,} rows in {report.seconds:.1f}s ({stages})")
    console.print(f"report: {report.out}/report.md")


def _marked(diff, side: int) -> Text:
    text = Text()
    for tag, a, b in diff:
        piece = a if side == 0 else b
        if not piece:
            continue
        if tag == "equal":
            text.append(piece)
        else:
            text.append(piece, style="bold red on grey15" if side == 0 else "bold green on grey15")
    return text


def print_explanation(exp, width: int | None = None, console: Console | None = None) -> None:
    from dedupe.explain import word_diff

    console = console or Console()
    row = exp.row
    console.print(
        f"[bold]{escape(row['id'])}[/]: [bold]{row['action']}[/] -- {escape(row['reason'] or '')}"
    )
    console.print(f"source: {escape(row['source_file'])} row {row['source_row']}")
    if row["action"] == "kept" and row["output_file"]:
        console.print(f"written to: {row['output_file']} row {row['output_row']}")
    if row["cluster_size"]:
        console.print(
            f"cluster: {row['cluster_id']} ({row['cluster_size']} rows), survivor "
            f"{escape(str(row['survivor_id']))}, estimated Jaccard to survivor "
            f"{row['similarity']:.3f}"
        )
    if exp.survivor is not None and exp.survivor.get("index"):
        console.print(
            f"matched in index {escape(exp.survivor['index'])}: {escape(exp.survivor['id'])} "
            f"({escape(str(exp.survivor['source_file']))} row {exp.survivor['source_row']})"
            + ("" if exp.survivor_text is not None else " -- its file cannot be read now")
        )
    if exp.survivor is None or exp.text is None or exp.survivor_text is None:
        if exp.text is not None:
            console.print(Text(exp.text[:width] if width else exp.text))
        return
    a, b = exp.text, exp.survivor_text
    if width:
        a, b = a[:width], b[:width]
    diff = word_diff(a, b)
    table = Table(show_lines=True, expand=True)
    table.add_column(f"this row: {escape(row['id'])}", ratio=1)
    table.add_column(f"survivor: {escape(exp.survivor['id'])}", ratio=1)
    table.add_row(_marked(diff, 0), _marked(diff, 1))
    console.print(table)
    console.print("[bold red]red[/]: only in this row   [bold green]green[/]: only in the survivor")
