"""The command line: parse options into a config, call the library, render the report."""

from __future__ import annotations

import json
import os
import sys
import traceback

import click

from dedupe import config as _c
from dedupe.config import OPTION_KEYS, load_config
from dedupe.engines.base import DEBUG_VARIABLE
from dedupe.errors import ConfigError, DedupeError

__all__ = ["main"]


# numeric options are passed on as typed: the config reads them (ASCII digits only) and checks
# their ranges, so a wrong value gets the same message from a flag, --set or a config file
_INT, _NUM = "INTEGER", "NUMBER"
_WORKERS_HELP = f"Worker processes [all cores; at most {_c.MAX_WORKERS}]."


def _parse_set(values) -> dict:
    """``KEY=VALUE`` pairs; each value stays a string, read as its key's type by the config."""
    out = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: use KEY=VALUE, e.g. lsh.threshold=0.8",
                                     param_hint="--set")
        out[key.strip()] = raw
    return out


def _refuse_set(overrides: dict, given_by: dict[str, str]) -> None:
    """A ``--set`` of a key that the command sets from its arguments would be ignored: refuse
    it, naming the argument to use."""
    for key, argument in given_by.items():
        if key in overrides:
            raise ConfigError(f"--set {key}={overrides[key]!r}: give it as {argument}, not "
                              "with --set")


# most values one grid option of `dedupe sweep` may list (start:stop:step included)
MAX_GRID_VALUES = 1000


def _grid(spec: str, kind, name: str) -> list:
    """``parse_grid``, refusing a grid of more than ``MAX_GRID_VALUES`` values before it is
    built (``0:1:1e-12`` would fill the memory)."""
    import math

    from dedupe.evaluate.sweep import parse_grid

    parts = str(spec).split(":")
    if len(parts) == 3:
        try:
            start, stop, step = (float(x) for x in parts)
        except ValueError:
            start = stop = step = math.nan  # parse_grid names the problem
        finite = math.isfinite(start) and math.isfinite(stop)  # else parse_grid refuses it
        if finite and step > 0 and (stop - start) / step >= MAX_GRID_VALUES:
            raise ConfigError(f"{name} {spec!r} gives over {MAX_GRID_VALUES} values: use a "
                              "larger step")
    values = parse_grid(spec, kind, name)
    if len(values) > MAX_GRID_VALUES:
        raise ConfigError(f"{name} {spec!r} gives {len(values)} values: at most "
                          f"{MAX_GRID_VALUES}")
    return values


class _OptionError(click.ClickException):
    """A wrong option or config value: exit status 2, as for click's own usage errors."""

    exit_code = 2


class _Commands(click.Group):
    """The command group: a library error becomes a one-line message, never a traceback
    (unless ``DEDUPE_DEBUG=1``: then the traceback comes first, a worker's included)."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            _show_traceback(exc)
            raise _OptionError(str(exc)) from None
        except DedupeError as exc:
            _show_traceback(exc)
            raise click.ClickException(str(exc)) from None


def _show_traceback(exc: BaseException) -> None:
    if os.environ.get(DEBUG_VARIABLE, "").strip() not in ("", "0"):
        traceback.print_exception(exc, file=sys.stderr)


@click.group(cls=_Commands)
@click.version_option(package_name="dedupe")
def main():
    """dedupe: near-duplicate and boilerplate deduplication for web-text corpora."""


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "-o", required=True, help="Run folder to create.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="dedupe.toml")
@click.option("--set", "set_values", multiple=True, help="Override any config key: KEY=VALUE.")
@click.option("--text-column", help="Column holding the text [text].")
@click.option("--id-column", help="Column holding row ids [file:row].")
@click.option("--format", type=click.Choice(["auto", "parquet", "jsonl"]), help="Input format.")
@click.option(
    "--on-bad-row",
    type=click.Choice(["error", "reject"]),
    help="Stop on a bad row (error) or record it as rejected.",
)
@click.option("--max-doc-bytes", metavar=_INT,
              help="Longest text hashed in full, in bytes [2000000; at most 1GB].")
@click.option("--on-long-doc", type=click.Choice(["truncate", "reject"]))
@click.option("--max-row-bytes", metavar="SIZE",
              help="Longest JSONL line or Parquet text read; longer rows are rejected "
                   "[64MB; at most 1GB].")
@click.option("--batch-rows", metavar=_INT,
              help=f"Rows per Arrow batch [1024; at most {_c.MAX_BATCH_ROWS}].")
@click.option("--shingle", type=click.Choice(["word", "char"]), help="Shingle kind [word].")
@click.option("--ngram", metavar=_INT, help=f"Shingle size [2; 1 to {_c.MAX_NGRAM}].")
@click.option("--num-perm", metavar=_INT,
              help=f"MinHash permutations [128; 1 to {_c.MAX_NUM_PERM}].")
@click.option("--seed", metavar=_INT, help=f"Permutation seed [1; 0 to {_c.MAX_SEED}].")
@click.option(
    "--hash-scheme",
    type=click.Choice(["native", "sha1"]),
    help="native (fast) or sha1 (datasketch-identical hash values).",
)
@click.option("--threshold", metavar=_NUM, help="Jaccard threshold [0.75; in (0, 1]].")
@click.option("--bands", metavar=_INT,
              help="LSH bands (with --rows; bands x rows at most --num-perm).")
@click.option("--rows", metavar=_INT, help="LSH rows per band (with --bands).")
@click.option("--fp-weight", metavar=_NUM,
              help="Weight of false positives in the b x r choice (>= 0).")
@click.option("--fn-weight", metavar=_NUM,
              help="Weight of false negatives in the b x r choice (>= 0).")
@click.option("--max-bucket-size", metavar=_INT, help="Cap on an LSH bucket's members [5000].")
@click.option("--verify", type=click.Choice(["signature", "exact", "none"]))
@click.option("--survivor", help="first | longest | max:COLUMN")
@click.option("--spans/--no-spans", default=None, help="Flag text repeated inside a page [on].")
@click.option("--span-min-tokens", metavar=_INT,
              help=f"Shortest repeat or shared passage [10; 1 to {_c.MAX_SPAN_TOKENS}].")
@click.option("--span-near/--no-span-near", default=None, help="Also near repeats [on].")
@click.option("--boilerplate/--no-boilerplate", default=None,
              help="Flag lines and paragraphs repeated across pages [on].")
@click.option("--boilerplate-min-docs", metavar=_INT, help="Pages a line must be in [3].")
@click.option("--boilerplate-policy", type=click.Choice(["all", "keep_first"]),
              help="Flag every copy (all) or keep the first page's copy.")
@click.option("--boilerplate-windows", is_flag=True, default=None,
              help="Also count every run of --span-min-tokens tokens across pages.")
@click.option("--near-passages/--no-near-passages", default=None,
              help="Flag passages copied from earlier pages with words changed [off].")
@click.option("--passage-threshold", metavar=_NUM,
              help="Jaccard (of the passages' words) a near passage needs [0.42; in (0, 1]].")
@click.option("--passage-tokens", metavar=_INT,
              help=f"Tokens a passage window holds [40; 2 to {_c.MAX_SPAN_TOKENS}].")
@click.option("--passage-stride", metavar=_INT,
              help="Tokens between passage windows [10; at most --passage-tokens].")
@click.option("--remove-spans", is_flag=True, default=None,
              help="Cut flagged spans out of the output text.")
@click.option("--min-length", metavar=_INT,
              help="Characters a page must keep after --remove-spans [50; 0 to 2**30].")
@click.option("--repetition-stats", is_flag=True, default=None,
              help="Gopher repetition statistics in the manifest.")
@click.option("--gopher-filter", is_flag=True, default=None,
              help="Remove pages above the Gopher repetition limits.")
@click.option("--rows-per-shard", metavar=_INT, help="Rows per output shard [100000].")
@click.option("--bytes-per-shard", metavar=_INT, help="Bytes of text per output shard.")
@click.option("--workdir", help="Folder or URI (s3://bucket/prefix) for intermediate files "
                                "[OUT/_work].")
@click.option("--workers", metavar=_INT, help=_WORKERS_HELP)
@click.option("--partitions", metavar=_INT,
              help="Partitions of the decide stage [0: two per worker, more for a quarter of "
                   f"--memory-limit each; at most {_c.MAX_PARTITIONS}]; any count gives the "
                   "same result.")
@click.option("--engine", type=click.Choice(["local", "serial", "ray"]))
@click.option("--address", help="Ray cluster: auto or ray://host:10001 (with --engine ray).")
@click.option("--against", multiple=True,
              help="Remove rows matching this index's documents (repeatable).")
@click.option("--write-index", help="Store the kept rows as a new index here.")
@click.option("--update-index", is_flag=True, default=None,
              help="Append the kept rows to the (first) --against index.")
@click.option("--memory-limit", metavar="SIZE",
              help="Memory a task may use: sizes the decide partitions and the signatures "
                   "read at once [2GB; at most 1PB].")
@click.option("--overwrite", is_flag=True, help="Replace an existing run folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or summary.")
@click.option("--dry-run", is_flag=True, help="Only estimate rows, disk and memory; run nothing.")
def run(inputs, out, config_path, set_values, overwrite, quiet, dry_run, **options):
    """Deduplicate INPUTS (Parquet/JSONL files, folders, globs, URIs) into OUT."""
    from dedupe.pipeline.runner import run_pipeline

    overrides = {
        key: options[name] for name, key in OPTION_KEYS.items()
        if options.get(name) is not None and options.get(name) != ()
    }
    given = _parse_set(set_values)
    _refuse_set(given, {"input.paths": "the INPUTS arguments", "output.out": "--out"})
    overrides.update(given)
    overrides["input.paths"] = tuple(inputs)
    overrides["output.out"] = out
    if overwrite:
        overrides["output.overwrite"] = True
    cfg = load_config(config_path, **overrides)
    if dry_run:
        _print_estimate(cfg)
        return
    if quiet:
        report = run_pipeline(cfg)
    else:
        from dedupe.progress import RichProgress

        with RichProgress() as progress:
            report = run_pipeline(cfg, progress=progress)
    if not quiet:
        from dedupe.progress import print_summary

        print_summary(report)


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", "-o", required=True, help="Folder for the sweep outputs.")
@click.option("--labels-column", help="Column with a cluster label per row.")
@click.option("--labels", "labels_path", type=click.Path(exists=True, dir_okay=False),
              help="Labelled pairs (Parquet or CSV: id_a, id_b, duplicate).")
@click.option("--thresholds", default="0.05:0.95:0.05", show_default=True,
              help="start:stop:step or a,b,c")
@click.option("--ngram", "ngrams", help="Shingle sizes, e.g. 3,5,7 [the config's].")
@click.option("--num-perm", "num_perms", help="Permutation counts, e.g. 64,128,256.")
@click.option("--shingle", "shingles", help="word, char or word,char [the config's].")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="dedupe.toml")
@click.option("--set", "set_values", multiple=True, help="Override any config key: KEY=VALUE.")
@click.option("--text-column", help="Column holding the text [text].")
@click.option("--id-column", help="Column holding row ids [file:row].")
@click.option("--on-bad-row", type=click.Choice(["error", "reject"]),
              help="Stop on a malformed row (error) or leave it out of the scores (reject).")
@click.option("--workers", metavar=_INT, help=_WORKERS_HELP)
@click.option("--memory-limit", help="Memory budget per worker, e.g. 2GB [2GB]: the decide "
              "tasks of every threshold are sized to it.")
@click.option("--max-pairs-per-row", type=click.IntRange(0), default=0, show_default=True,
              help="Candidate pairs verified per row at most (those of the smallest pair "
                   "hashes; 0: all); the pairs left out are counted in capped_pairs.")
@click.option("--passage-thresholds", metavar="GRID",
              help="Score near-passage thresholds instead (start:stop:step or a,b,c), against "
                   "--span-labels.")
@click.option("--span-labels", "span_labels", type=click.Path(dir_okay=False),
              help="Parquet or JSONL of ranges that should be flagged as near passages: id, "
                   "start, end (with --passage-thresholds).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def sweep(inputs, out, labels_column, labels_path, thresholds, ngrams, num_perms, shingles,
          config_path, set_values, text_column, id_column, on_bad_row, workers, memory_limit,
          max_pairs_per_row, passage_thresholds, span_labels, overwrite, quiet):
    """Score thresholds, n-gram sizes and permutation counts on INPUTS (labelled or not)."""
    from dataclasses import replace

    from dedupe.evaluate.sweep import sweep as run_sweep

    overrides = _parse_set(set_values)
    _refuse_set(overrides, {"input.paths": "the INPUTS arguments", "output.out": "--out"})
    for key, value in (("input.text_column", text_column), ("input.id_column", id_column),
                       ("input.on_bad_row", on_bad_row), ("engine.workers", workers),
                       ("engine.memory_limit", memory_limit)):
        if value is not None:
            overrides[key] = value
    overrides["input.paths"] = tuple(inputs)
    overrides["output.out"] = out
    if overwrite:
        overrides["output.overwrite"] = True
    if labels_column and labels_path:
        raise click.UsageError("give --labels-column or --labels, not both")
    if bool(passage_thresholds) != bool(span_labels):
        raise click.UsageError("--passage-thresholds and --span-labels go together")
    cfg = load_config(config_path, **overrides)
    if passage_thresholds:
        from dedupe.evaluate.passage_sweep import sweep_passages

        table = sweep_passages(cfg, out, _grid(passage_thresholds, float,
                                               "--passage-thresholds"), span_labels)
        best = max((r for r in table.to_pylist() if r["f1"] is not None),
                   key=lambda r: r["f1"], default=None)
        if best:
            click.echo(f"best by F1: passage threshold {best['passage_threshold']:.2f}: "
                       f"precision {best['precision']:.3f} recall {best['recall']:.3f} "
                       f"F1 {best['f1']:.3f}")
        click.echo(f"{table.num_rows} passage thresholds -> {out}/report.md (sweep.parquet)")
        return
    grid = {
        "thresholds": _grid(thresholds, float, "--thresholds"),
        "ngrams": _grid(ngrams, int, "--ngram") if ngrams else [cfg.minhash.ngram],
        "num_perms": (_grid(num_perms, int, "--num-perm") if num_perms
                      else [cfg.minhash.num_perm]),
        "shingles": (_grid(shingles, str, "--shingle") if shingles
                     else [cfg.minhash.shingle]),
    }
    for num_perm in grid["num_perms"]:  # --bands x --rows against every permutation count
        replace(cfg, minhash=replace(cfg.minhash, num_perm=num_perm))
    args = dict(labels_column=labels_column, labels_path=labels_path,
                max_pairs_per_row=max_pairs_per_row, **grid)
    if quiet:
        result = run_sweep(cfg, out, **args)
    else:
        from dedupe.progress import RichProgress

        with RichProgress() as progress:
            result = run_sweep(cfg, out, progress=progress, **args)
    files = result.files
    if result.best:
        b = result.best
        click.echo(f"best by F1: {b['shingle']} {b['ngram']}-grams, {b['num_perm']} perms, "
                   f"threshold {b['threshold']:.2f} ({b['bands']} x {b['rows']}): precision "
                   f"{b['precision']:.3f} recall {b['recall']:.3f} F1 {b['f1']:.3f} "
                   f"ARI {b['ari']:.3f}")
    click.echo(f"{result.table.num_rows} settings -> {out}/report.md ({', '.join(files)})")


def _print_estimate(cfg) -> None:
    from dedupe.pipeline.estimate import estimate

    e = estimate(cfg)
    approx = "" if e["rows_exact"] else " (estimated from the first megabytes)"
    click.echo(f"inputs: {e['files']} files, {e['tasks']} tasks")
    click.echo(f"documents: {e['rows']:,}{approx}")
    click.echo(f"text: {_size(e['text_bytes'])}")
    click.echo(f"work folder: about {_size(e['work_disk_bytes'])}; output shards about "
               f"{_size(e['output_bytes_estimate'])}")
    click.echo(f"memory: main process about {_size(e['main_memory_bytes'])}, each of "
               f"{e['workers']} workers about {_size(e['worker_memory_bytes'])}")
    curve = "  ".join(f"J={k}: {v:.2f}" for k, v in e["s_curve"].items())
    click.echo(f"bands x rows = {e['bands']} x {e['rows_per_band']}")
    click.echo(f"P(candidate): {curve}")


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="dedupe.toml")
@click.option("--set", "set_values", multiple=True, help="Override any config key: KEY=VALUE.")
@click.option("--text-column", help="Column holding the text [text].")
@click.option("--threshold", metavar=_NUM, help="Jaccard threshold [0.75; in (0, 1]].")
@click.option("--num-perm", metavar=_INT,
              help=f"MinHash permutations [128; 1 to {_c.MAX_NUM_PERM}].")
def plan(inputs, config_path, set_values, text_column, threshold, num_perm):
    """Estimate what `dedupe run` on INPUTS needs, from file metadata only."""
    overrides = _parse_set(set_values)
    _refuse_set(overrides, {"input.paths": "the INPUTS arguments"})
    for key, value in (("input.text_column", text_column), ("lsh.threshold", threshold),
                       ("minhash.num_perm", num_perm)):
        if value is not None:
            overrides[key] = value
    overrides["input.paths"] = tuple(inputs)
    _print_estimate(load_config(config_path, **overrides))


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("row_id")
@click.option("--width", type=click.IntRange(min=1), default=None,
              help="Characters of text to show per side [all].")
def explain(run_dir, row_id, width):
    """Why the row ROW_ID of RUN_DIR was kept or removed."""
    from dedupe.explain import explain as do_explain
    from dedupe.progress import print_explanation

    exp = do_explain(run_dir, row_id)
    print_explanation(exp, width)


@main.group("index")
def index_group():
    """Build and inspect persistent indexes of kept documents."""


@index_group.command("build")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "-o", required=True, help="Index folder to create.")
@click.option("--overwrite", is_flag=True, help="Replace an existing index folder.")
def index_build(run_dir, out, overwrite):
    """Index the kept rows of the finished run RUN_DIR into OUT."""
    from dedupe.index import build_from_run

    index = build_from_run(run_dir, out, overwrite=overwrite)
    info = index.info()
    click.echo(f"indexed {info['rows']:,} documents of {run_dir} -> {out} "
               f"({_size(info['bytes']['total'])})")


@index_group.command("info")
@click.argument("index_path", metavar="INDEX", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the facts as JSON.")
def index_info(index_path, as_json):
    """Parameters, generations and size on disk of the index INDEX."""
    from dedupe.index import open_index

    info = open_index(index_path).info()
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    click.echo(f"index {info['path']} (format {info['format_version']}, written by dedupe "
               f"{info['dedupe_version']}, created {info['created']})")
    gens = info["generations"]
    click.echo(f"documents: {info['rows']:,} in {len(gens)} generation(s)")
    for g in gens:
        source = f"  from {g['source']}" if g["source"] else ""
        last = g["first_doc"] + g["rows"] - 1
        docs = f"docs {g['first_doc']:,}..{last:,}" if g["rows"] else "no docs"
        click.echo(f"  {g['name']}  {docs}  {g['rows']:,} rows  {g['created']}  "
                   f"{_size(g['bytes'])}{source}")
    click.echo("parameters:")
    for key, value in sorted(info["params"].items()):
        click.echo(f"  {key} = {json.dumps(value) if not isinstance(value, str) else value}")
    sizes = info["bytes"]
    click.echo("on disk: " + ", ".join(f"{k} {_size(v)}" for k, v in sizes.items()))


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024:
            return f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} PiB"


if __name__ == "__main__":  # python -m dedupe.cli
    main()
