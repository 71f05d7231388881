"""RunReport: what a run did, in numbers, as JSON for scripts and Markdown for people."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field

from dedupe._version import __version__
from dedupe.memory import PeakRSS

__all__ = ["INDEX_VERBS", "RunReport", "StageTimer", "versions"]

# how the report words outputs["index"]["mode"]
INDEX_VERBS = {"new": "written to", "update": "appended to",
               "already there": "already in (an earlier attempt of this run added them)"}


def versions() -> dict[str, str]:
    import importlib.metadata

    import numpy
    import pyarrow
    import xxhash

    from dedupe.schemes import scheme_fields
    from dedupe.text.hashing import HASH_SCHEME

    return {
        "dedupe": __version__,
        "hash_scheme": HASH_SCHEME,
        **scheme_fields(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
        # from the installed metadata: importing datasketch loads scipy's integrators
        "datasketch": importlib.metadata.version("datasketch"),
        "xxhash": xxhash.VERSION,
        "unicodedata2": importlib.metadata.version("unicodedata2"),
    }


def _cell(text: str | None, width: int = 80) -> str:
    """Text as one Markdown table cell: pipes escaped, on one line, cut to ``width``."""
    text = (text or "").replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 3] + "..."


@dataclass
class StageTimer:
    """Wall time and peak memory of one stage.

    ``peak_rss_main``: the most resident memory the main process held during the stage;
    ``peak_rss_worker``: the largest such peak of one of the stage's tasks in a worker (the
    runner sets it from the task results; 0 for a stage without tasks). ``peak_rss_scope`` is
    ``"stage"``, or ``"process"`` where the system cannot reset the peak and both figures are
    the peak since the process started (see :mod:`dedupe.memory`).
    """

    name: str
    rows: int = 0
    tasks: int = 0
    seconds: float = 0.0
    peak_rss_main: int = 0
    peak_rss_worker: int = 0
    peak_rss_scope: str = "stage"
    details: dict = field(default_factory=dict)  # what a stage tells of its own parts
    _t0: float = field(default=0.0, repr=False)
    _rss: PeakRSS | None = field(default=None, repr=False)

    def __enter__(self):
        self._rss = PeakRSS.start()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t0
        self.peak_rss_main = self._rss.stop()
        self.peak_rss_scope = "stage" if self._rss.alone else "process"
        return False

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "rows": self.rows,
            "tasks": self.tasks,
            "seconds": round(self.seconds, 4),
            "peak_rss_main": self.peak_rss_main,
            "peak_rss_worker": self.peak_rss_worker,
            "peak_rss_scope": self.peak_rss_scope,
            "rows_per_second": round(self.rows / self.seconds, 1) if self.seconds else None,
            **({"details": self.details} if self.details else {}),
        }


@dataclass
class RunReport:
    """Everything a person or a script needs to trust a run."""

    out: str
    inputs: list[str]
    rows: int
    counts: dict[str, int]
    parameters: dict
    lsh: dict
    stages: list[dict]
    outputs: dict
    versions: dict
    seconds: float
    spans: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, default=str)

    def _spans_markdown(self) -> list[str]:
        if not self.spans:
            return []
        sp = self.spans
        lines = ["", "## Repeated spans and boilerplate", "",
                 "| kind | spans | characters | documents |", "|---|---:|---:|---:|"]
        kinds = ("repeat", "boilerplate", "near_passage") if "passages" in sp else (
            "repeat", "boilerplate")
        for kind in kinds:
            k = sp.get(kind, {})
            lines.append(f"| {kind} | {k.get('spans', 0):,} | {k.get('chars', 0):,} "
                         f"| {k.get('documents', 0):,} |")
        top = sp.get("top_boilerplate") or []
        if top:
            lines += ["", "Top boilerplate lines (documents they occur in, one example):", "",
                      "| documents | line | example |", "|---:|---|---|"]
            for t in top:
                lines.append(f"| {t['docs']:,} | {_cell(t.get('text'))} | {t.get('source_file')}:"
                             f"{t.get('source_row')} |")
        near = sp.get("top_near_passages") or []
        if near:
            lines += ["", "Top near-duplicate passage clusters (passages in the cluster, one "
                      "later copy, where the first occurrence is):", "",
                      "| passages | later copy | at | first occurrence |", "|---:|---|---|---|"]
            for t in near:
                lines.append(f"| {t['passages']:,} | {_cell(t.get('text'))} | {t['source_file']}:"
                             f"{t['source_row']} | {t['first_source_file']}:"
                             f"{t['first_source_row']} (char {t['first_start']:,}) |")
        return lines

    def _stages_markdown(self) -> list[str]:
        alone = all(st.get("peak_rss_scope", "stage") == "stage" for st in self.stages)
        lines = [
            "",
            "## Stages",
            "",
            "| stage | tasks | rows | seconds | rows/s | peak RSS main | peak RSS worker |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for st in self.stages:
            rps = f"{st['rows_per_second']:,.0f}" if st.get("rows_per_second") else "-"
            worker = (f"{st['peak_rss_worker'] / 2**20:.0f} MiB" if st["peak_rss_worker"]
                      else "-")
            lines.append(
                f"| {st['name']} | {st['tasks']} | {st['rows']:,} | {st['seconds']:.2f} "
                f"| {rps} | {st['peak_rss_main'] / 2**20:.0f} MiB | {worker} |"
            )
        if alone:
            note = ("Peak RSS: the most resident memory the main process held during the stage, "
                    "and the most one of the stage's tasks held in a worker process.")
        else:
            note = ("Peak RSS: this system cannot reset the peak, so these are the peaks since "
                    "each process started, not per stage.")
        return [*lines, "", note]

    def to_markdown(self) -> str:
        lines = ["# dedupe run report", ""]
        lines += [
            f"- input files: {len(self.inputs)}",
            f"- rows: {self.rows:,}",
            f"- wall time: {self.seconds:.2f} s",
            "",
        ]
        lines += ["## Decisions", "", "| action | rows | share |", "|---|---:|---:|"]
        for action, n in self.counts.items():
            share = n / self.rows if self.rows else 0.0
            lines.append(f"| {action} | {n:,} | {share:.2%} |")
        lsh = self.lsh
        lines += [
            "",
            "## MinHash LSH",
            "",
            f"- shingles: {self.parameters['minhash']['shingle']} "
            f"{self.parameters['minhash']['ngram']}-grams, "
            f"{self.parameters['minhash']['num_perm']} permutations, seed "
            f"{self.parameters['minhash']['seed']}, scheme {self.versions['hash_scheme']} "
            f"({self.parameters['minhash']['hash_scheme']})",
            f"- threshold {self.parameters['lsh']['threshold']}, "
            f"bands x rows = {lsh['bands']} x {lsh['rows']}, "
            f"verification: {self.parameters['lsh']['verify']}",
            f"- candidate pairs {lsh['candidate_pairs']:,}, verified "
            f"{lsh['verified_pairs']:,}, rejected by verification {lsh['rejected_pairs']:,}",
            f"- buckets over {self.parameters['lsh']['max_bucket_size']} members: "
            f"{lsh['oversized_buckets']} (largest bucket {lsh['largest_bucket']}); "
            f"largest cluster {lsh['largest_cluster']}",
            *([f"- against {', '.join(self.outputs.get('against', []))}: "
               f"{lsh['index_removed']:,} rows removed, {lsh['index_exact']:,} of them exact "
               f"copies; {lsh['index_matches']:,} matched an index document themselves, the "
               "rest were in their clusters (manifest columns matched_*)"]
              if "index_removed" in lsh else []),
            *([f"- index: {self.outputs['index']['rows']:,} kept rows "
               f"{INDEX_VERBS.get(self.outputs['index']['mode'], self.outputs['index']['mode'])} "
               f"{self.outputs['index']['path']}"] if "index" in self.outputs else []),
            "",
            "Probability that a pair becomes a candidate (S-curve):",
            "",
            "| Jaccard | " + " | ".join(lsh["s_curve"]) + " |",
            "|---|" + "---:|" * len(lsh["s_curve"]),
            "| P(candidate) | " + " | ".join(f"{v:.3f}" for v in lsh["s_curve"].values()) + " |",
        ]
        lines += self._stages_markdown()
        lines += self._spans_markdown()
        lines += ["", "## Outputs", ""]
        lines += [f"- {k}: {v}" for k, v in self.outputs.items()]
        for title, body in self.extra.items():
            lines += ["", f"## {title}", "", body if isinstance(body, str) else json.dumps(body)]
        lines += ["", "## Versions", ""]
        lines += [f"- {k}: {v}" for k, v in self.versions.items()]
        return "\n".join(lines) + "\n"
