"""The public surface is explicit, sorted, and changes only on purpose."""

from __future__ import annotations

import dedupe


def test_public_names_are_locked():
    assert dedupe.__all__ == [
        "ConfigError",
        "DedupeConfig",
        "DedupeError",
        "EngineError",
        "InputError",
        "OutputError",
        "RunReport",
        "__version__",
        "load_config",
        "run",
        "run_table",
    ]
    assert dedupe.__all__ == sorted(dedupe.__all__)
    for name in dedupe.__all__:
        assert hasattr(dedupe, name)


def test_errors_form_one_hierarchy():
    for err in (dedupe.ConfigError, dedupe.InputError, dedupe.OutputError, dedupe.EngineError):
        assert issubclass(err, dedupe.DedupeError)
    e = dedupe.InputError("a.parquet", "text is null", row=3, column="text", hint="fix it")
    assert str(e) == "a.parquet, row 3, column 'text': text is null (fix it)"
    import pickle

    again = pickle.loads(pickle.dumps(e))
    assert str(again) == str(e) and again.row == 3
