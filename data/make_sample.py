"""Write the bundled sample corpus in ``data/sample/`` (run from the repository root).

The sample is small enough to commit and to run the whole pipeline on in a test, and it is split
over the two input formats the readers accept, so both are exercised on every run:

- ``web-000.parquet``: the first half of the rows, zstd-compressed Parquet;
- ``web-001.jsonl.gz``: the second half, one JSON object a line, same columns and key order, so
  ``pyarrow.json`` reads ``cluster`` back as int64 and ``quality`` as double;
- ``../sample_truth.parquet``: ``id, cluster, variant`` of every row, for evaluation (outside
  the sample folder, so that ``dedupe run data/sample`` reads only the corpus).

Besides ``make_corpus`` pages it holds a few pages shaped like ``shared/corpus/seed_page.txt``
(a title list repeated at the top and the end), made by ``make_title_list_pages``. The output is
byte-for-byte reproducible for a given pyarrow version: the gzip header carries no time or name.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the generator is tests.synth
from tests.synth import interleave, make_corpus, make_title_list_pages


def build(n: int, seed: int, n_list_pages: int) -> pa.Table:
    """``n`` rows: ``n - n_list_pages`` corpus pages plus the seed-shaped pages, shuffled."""
    corpus = make_corpus(n - n_list_pages, seed=seed)
    return interleave(corpus, make_title_list_pages(n_list_pages, seed=seed), seed=seed)


def write_jsonl_gz(table: pa.Table, path: Path) -> None:
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        for row in table.to_pylist():
            gz.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/sample"))
    parser.add_argument("--n", type=int, default=400, help="total rows")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--list-pages", type=int, default=4, help="seed-page-shaped rows")
    args = parser.parse_args(argv)
    table = build(args.n, args.seed, args.list_pages)
    args.out.mkdir(parents=True, exist_ok=True)
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), args.out / "web-000.parquet", compression="zstd")
    write_jsonl_gz(table.slice(half), args.out / "web-001.jsonl.gz")
    pq.write_table(
        table.select(["id", "cluster", "variant"]),
        args.out.parent / "sample_truth.parquet",
        compression="zstd",
    )
    sizes = {p.name: p.stat().st_size for p in sorted(args.out.iterdir())}
    print(f"wrote {table.num_rows} rows to {args.out}: {sizes}")


if __name__ == "__main__":
    main()
