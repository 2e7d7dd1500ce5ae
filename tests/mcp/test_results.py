"""What keeps answers small and readable, on values a debugger can really produce: results
capped by size and depth with a note on paging, output pages cut at whole chunks, and
the source lines around a stop (never from a FIFO)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jupyter_debug_server.mcp.results import MAX_CHARS, capped, output_page
from jupyter_debug_server.mcp.stops import source_excerpt, top_locals

pytestmark = pytest.mark.timeout(30)


def test_huge_long_and_deep_values_are_cut_with_a_note() -> None:
    deep: dict[str, object] = {"leaf": 1}
    for _ in range(100):
        deep = {"next": deep}
    result = {"value": "x" * 10_000_000, "items": list(range(1_000_000)), "deep": deep,
              "fine": "short"}
    out = capped(result, "Page with start and count.")
    assert len(json.dumps(out)) <= MAX_CHARS
    assert out["truncated"] is True and out["note"].endswith("Page with start and count.")
    assert out["fine"] == "short"
    assert out["value"].startswith("xxx") and "more characters]" in out["value"]
    assert out["items"][0] == 0 and out["items"][-1].endswith("more items")
    level = out["deep"]
    while isinstance(level, dict):
        level = level["next"]
    assert level == "{…}"


def test_a_small_result_is_given_as_it_is() -> None:
    result = {"frames": [{"id": 1, "function": "main", "line": 3}], "total": 1}
    assert capped(result, "…") is result


def test_an_output_page_ends_after_a_whole_chunk() -> None:
    items = [{"seq": n, "category": "stdout", "output": f"{n:04d}\n" * 10} for n in
             range(1, 11)]
    page = {"items": items, "next": 10, "truncated": False, "state": "running"}
    first = output_page(page, 0, 10, budget=120)
    assert first["text"] == items[0]["output"] + items[1]["output"]
    assert (first["next"], first["more"]) == (2, True)
    whole = output_page(page, 0, 100, budget=10_000)
    assert (whole["next"], whole["more"]) == (10, False)
    huge = output_page({"items": [{"seq": 5, "output": "y" * 500}], "next": 5,
                        "state": "exited"}, 4, 100, budget=100)
    assert huge["text"] == "y" * 100 and huge["next"] == 5
    assert huge["note"] == "a chunk of 500 characters was cut to 100"
    empty = output_page({"items": [], "next": 7, "state": "exited"}, 7, 100)
    assert (empty["text"], empty["next"], empty["more"]) == ("", 7, False)


def test_the_source_around_a_line(tmp_path: Path) -> None:
    source = tmp_path / "app.py"
    source.write_text("".join(f"line {n}\n" for n in range(1, 13)))
    assert source_excerpt(str(source), 10, around=2) == (
        "   8 | line 8\n   9 | line 9\n> 10 | line 10\n  11 | line 11\n  12 | line 12")
    assert source_excerpt(str(source), 1, around=1) == "> 1 | line 1\n  2 | line 2"
    assert source_excerpt(str(source), 40) is None  # changed since it started
    assert source_excerpt(str(tmp_path / "gone.py"), 1) is None
    assert source_excerpt(None, 3) is None
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert source_excerpt(str(fifo), 1) is None  # not read: it would block


def test_the_locals_are_the_first_scope_and_say_how_to_page() -> None:
    answer = {"frame_id": 2, "scopes": [
        {"name": "Locals", "reference": 4, "total": 90, "variables": [
            {"name": "a", "value": "1", "type": "int", "variablesReference": 0},
            {"name": "xs", "value": "[…]", "type": "list", "variablesReference": 9}]},
        {"name": "Globals", "reference": 5, "total": 3, "variables": []}]}
    out = top_locals(answer)
    assert out["locals"] == [{"name": "a", "value": "1", "type": "int"},
                             {"name": "xs", "value": "[…]", "type": "list", "reference": 9}]
    assert out["locals_note"] == ("2 of 90 shown: variables(session_id, reference=4, "
                                  "start=2) pages the rest")
    assert out["other_scopes"] == [{"name": "Globals", "reference": 5}]
