"""Cut flagged spans out of a text, tidy the seams, and keep enough to undo it exactly.

Removing a span leaves two whitespace runs facing each other ("end of one.  [cut]  \\n\\nNext");
``remove_spans`` replaces the pair with one of them, so a cut never leaves a doubled space, a
space before punctuation, or more than one blank line where it joined two paragraphs. Nothing
else of the text changes.

Invariant: every character that leaves the text is recorded. A cut region (the merged spans
plus the whitespace around them) is replaced by a *joiner* that is always a prefix or a suffix
of the region itself, so the rest of the region is one contiguous string. ``SpanEdit`` keeps,
for each cut, its insertion point in the new text and that string, and
``rebuild(edit.text, edit.positions, edit.removed)`` returns the original exactly.

Choice of joiner at a cut between text on both sides, from the whitespace run before the cut
and the one after it:

* either run holds a line break: the run with more line breaks (the one after on a tie, since it
  carries the next line's indentation), trimmed to two line breaks (one blank line);
* both runs are spaces: the shorter one;
* only one side had whitespace: nothing, unless that would glue two words together; this drops
  the space in "see [cut])" and "word [cut]." and keeps it in "word [cut]word".

At the start of the text the joiner is empty; at the end it is the last line break of the
trailing run, so a text that ended with a newline still does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dedupe.spans.merge import merge_spans
from dedupe.text.ucd import is_alnum


@dataclass(frozen=True)
class SpanEdit:
    """A text with spans removed, plus the removed strings and where they went.

    ``positions[i]`` is an index into ``text`` (increasing); ``removed[i]`` is the string that
    stood there in the original, including the whitespace that tidying took out.
    """

    text: str
    positions: np.ndarray
    removed: tuple[str, ...]

    def rebuild(self) -> str:
        """The original text."""
        return rebuild(self.text, self.positions, self.removed)


def rebuild(text: str, positions: np.ndarray | list[int], removed: tuple[str, ...]) -> str:
    """Insert each ``removed[i]`` at ``positions[i]`` of ``text``; inverse of ``remove_spans``."""
    pos = np.asarray(positions, dtype=np.int64).reshape(-1)
    if len(pos) != len(removed):
        raise ValueError(f"{len(pos)} positions but {len(removed)} removed strings")
    if len(pos) and (pos[0] < 0 or pos[-1] > len(text) or np.any(np.diff(pos) < 0)):
        raise ValueError(f"positions must be sorted and lie in 0..{len(text)}")
    parts: list[str] = []
    prev = 0
    for p, piece in zip(pos.tolist(), removed, strict=True):
        parts += (text[prev:p], piece)
        prev = p
    parts.append(text[prev:])
    return "".join(parts)


def remove_spans(
    text: str, starts: np.ndarray | list[int], ends: np.ndarray | list[int]
) -> SpanEdit:
    """Remove ``text[starts[i]:ends[i]]`` for every ``i``, tidying whitespace at each cut.

    Spans may overlap, touch, be empty or arrive unsorted; spans separated only by whitespace
    are cut as one region, so cuts never compete for the same whitespace.
    """
    s, e = merge_spans(starts, ends, None)
    if len(e) and e[-1] > len(text):
        raise ValueError(f"span end {int(e[-1])} lies past the text ({len(text)} chars)")
    kept: list[str] = []
    positions: list[int] = []
    removed: list[str] = []
    cursor = size = 0
    for start, end in _join_across_whitespace(text, s.tolist(), e.tolist()):
        lo = cursor + len(text[cursor:start].rstrip())
        after = text[end : _next_non_space(text, end)]
        hi = end + len(after)
        joiner, at_front = _joiner(text, lo, start, end, hi)
        kept.append(text[cursor:lo])
        size += lo - cursor
        if at_front:
            positions.append(size + len(joiner))
            removed.append(text[lo + len(joiner) : hi])
        else:
            positions.append(size)
            removed.append(text[lo : hi - len(joiner)])
        kept.append(joiner)
        size += len(joiner)
        cursor = hi
    kept.append(text[cursor:])
    return SpanEdit("".join(kept), np.array(positions, dtype=np.int64), tuple(removed))


def _next_non_space(text: str, pos: int) -> int:
    """Index of the first non-whitespace character at or after ``pos`` (``len(text)`` if none)."""
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _join_across_whitespace(text: str, starts: list[int], ends: list[int]) -> list[tuple[int, int]]:
    """Merge sorted, disjoint spans whose gap is whitespace only."""
    out: list[tuple[int, int]] = []
    for start, end in zip(starts, ends, strict=True):
        if out and text[out[-1][1] : start].isspace():
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def _joiner(text: str, lo: int, start: int, end: int, hi: int) -> tuple[str, bool]:
    """The whitespace that stands in for region ``[lo, hi)``, and whether it is its prefix.

    ``[lo, start)`` and ``[end, hi)`` are the whitespace runs around the spans ``[start, end)``.
    """
    before, after = text[lo:start], text[end:hi]
    if lo == 0:
        return "", False
    if hi == len(text):
        k = after.rfind("\n")
        if k < 0:
            return "", False
        return after[k - 1 if k > 0 and after[k - 1] == "\r" else k :], False
    breaks_before, breaks_after = before.count("\n"), after.count("\n")
    if breaks_before or breaks_after:
        if breaks_after >= breaks_before:
            return _last_two_breaks(after), False
        return _first_two_breaks(before), True
    if before and after:
        return (before, True) if len(before) <= len(after) else (after, False)
    if (before or after) and is_alnum(text[lo - 1]) and is_alnum(text[hi]):
        return (before, True) if before else (after, False)
    return "", False


def _last_two_breaks(run: str) -> str:
    """Suffix of ``run`` that holds at most two of its line breaks."""
    breaks = [i for i, ch in enumerate(run) if ch == "\n"]
    return run if len(breaks) <= 2 else run[breaks[-3] + 1 :]


def _first_two_breaks(run: str) -> str:
    """Prefix of ``run`` that holds at most two of its line breaks."""
    breaks = [i for i, ch in enumerate(run) if ch == "\n"]
    return run if len(breaks) <= 2 else run[: breaks[1] + 1]
