"""Check that a change to the code leaves every output of ``dedupe run`` byte for byte the same.

Runs ``dedupe run`` with defaults (and once more with ``--remove-spans``) on the bundled sample
and on a generated corpus, and records for every Parquet file the run wrote (shards, manifest,
spans) the SHA-256 of its bytes, plus the report's row counts and parameters (everything but
timings and the output path). ``--save`` writes that record; ``--check`` compares a fresh one
with a saved record and names every file that differs.

    python benchmarks/same_outputs.py --save /tmp/before.json     # on the old code
    python benchmarks/same_outputs.py --check /tmp/before.json    # on the new code

Every case runs with each ``--workers`` count (1 and 2 by default), whose outputs must agree.
``--set KEY=VALUE`` (repeatable) adds ``--set`` to every run: a changed default can be set back
to the old value, to show that nothing else changed.

Parquet written by the same pyarrow version is deterministic, so the comparison is of bytes, not
of decoded tables: a reordered row, a changed type or a changed metadata key all show.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

# report.json keys that change from run to run without any change in what was decided
VOLATILE = {"out", "stages", "seconds", "versions"}


def _corpus(folder: str, n_docs: int) -> str:
    """A generated corpus of ``n_docs`` pages in one Parquet file (made once, then reused)."""
    path = os.path.join(folder, f"corpus-{n_docs}")
    if not os.path.exists(os.path.join(path, "part-0.parquet")):
        import pyarrow.parquet as pq

        from tests.synth import make_corpus

        os.makedirs(path, exist_ok=True)
        table = make_corpus(n_docs, seed=12).drop_columns(["cluster", "variant"])
        pq.write_table(table, os.path.join(path, "part-0.parquet"))
    return path


def _strip(report: dict) -> dict:
    report = {k: v for k, v in report.items() if k not in VOLATILE}
    params = dict(report.get("parameters", {}))
    params.pop("output", None)
    params.pop("engine", None)  # how many workers ran it: never what was decided
    report["parameters"] = params
    return report


def record(inputs: str, out: str, extra: list[str]) -> dict:
    cmd = [sys.executable, "-m", "dedupe.cli", "run", inputs, "--out", out, "--overwrite", "-q"]
    subprocess.run(cmd + extra, check=True, cwd=ROOT)  # this tree's dedupe, relative paths
    files = {}
    for base, _dirs, names in os.walk(out):
        for name in names:
            if name.endswith(".parquet"):
                path = os.path.join(base, name)
                with open(path, "rb") as fh:
                    files[os.path.relpath(path, out)] = hashlib.sha256(fh.read()).hexdigest()
    with open(os.path.join(out, "report.json")) as fh:
        report = _strip(json.load(fh))
    return {"files": dict(sorted(files.items())), "report": report}


def collect(cache: str, n_docs: int, workers: list[int], sets: list[str] = ()
            ) -> tuple[dict, list[str]]:
    """``(record of the first worker count, differences between worker counts)``."""
    cases = {
        # relative to ROOT, so that two checkouts of the code write the same manifest
        "sample": (os.path.join("data", "sample"), []),
        "sample-remove-spans": (os.path.join("data", "sample"), ["--remove-spans"]),
        f"generated-{n_docs}": (_corpus(cache, n_docs), []),
    }
    result, problems = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (inputs, extra) in cases.items():
            for w in workers:
                got = record(inputs, os.path.join(tmp, f"{name}-{w}"),
                             [*extra, "--workers", str(w),
                              *(arg for kv in sets for arg in ("--set", kv))])
                if name not in result:
                    result[name] = got
                    print(f"{name}: {len(got['files'])} files", file=sys.stderr)
                else:
                    problems += [f"{p} with --workers {w}" for p in
                                 compare({name: result[name]}, {name: got})]
    return result, problems


def compare(old: dict, new: dict) -> list[str]:
    problems = []
    for case in sorted(set(old) | set(new)):
        a, b = old.get(case), new.get(case)
        if a is None or b is None:
            problems.append(f"{case}: only in {'new' if a is None else 'saved'} record")
            continue
        for name in sorted(set(a["files"]) | set(b["files"])):
            if a["files"].get(name) != b["files"].get(name):
                problems.append(f"{case}: {name} differs")
        for rec in (a, b):  # (records saved before the engine was left out)
            rec["report"].get("parameters", {}).pop("engine", None)
        if a["report"] != b["report"]:
            keys = set(a["report"]) | set(b["report"])
            keys = [k for k in keys if a["report"].get(k) != b["report"].get(k)]
            problems.append(f"{case}: report.json differs in {sorted(keys)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", help="write the record to this JSON file")
    group.add_argument("--check", help="compare with the record in this JSON file")
    parser.add_argument("--docs", type=int, default=20_000, help="size of the generated corpus")
    cache = os.path.join(tempfile.gettempdir(), "dedupe-same-outputs")
    parser.add_argument("--cache", default=cache)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="run every case with each of these worker counts (all must agree)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="add --set KEY=VALUE to every run")
    args = parser.parse_args()
    new, across = collect(args.cache, args.docs, args.workers, args.sets)
    for line in across:
        print(line)
    if across:
        print(f"{len(across)} differences between worker counts")
        return 1
    if args.save:
        with open(args.save, "w") as fh:
            json.dump(new, fh, indent=1, sort_keys=True)
        print(f"saved {sum(len(c['files']) for c in new.values())} file digests to {args.save}")
        return 0
    with open(args.check) as fh:
        old = json.load(fh)
    problems = compare(old, new)
    for line in problems:
        print(line)
    total = sum(len(c["files"]) for c in new.values())
    print("identical" if not problems else f"{len(problems)} differences", f"({total} files)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
