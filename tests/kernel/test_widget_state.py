"""The widgets' output tail (kernel/widget_state.OutputTail): whole lines kept with their
line ends, a partial last line carried until its end comes, at most `size` lines."""

from __future__ import annotations

import pytest

from jupyter_debug_server.kernel.widget_state import OutputTail

pytestmark = pytest.mark.timeout(10)


def test_chunks_that_split_lines_join_as_they_were_printed() -> None:
    tail = OutputTail(10)
    chunks = ["start\n", "step 0\nst", "ep 1", "\n", "done"]
    for chunk in chunks:
        tail.add(chunk)
    assert tail.text() == "".join(chunks)
    assert list(tail.lines) == ["start", "step 0", "step 1"]
    assert tail.partial == "done"


def test_a_chunk_sent_after_the_text_appends_to_it() -> None:
    """A view shows `text()`, then appends the chunks that follow: the same output."""
    tail = OutputTail(10)
    tail.add("one\n")
    shown = tail.text()
    tail.add("two\n")
    assert shown + "two\n" == tail.text() == "one\ntwo\n"


def test_only_the_last_lines_are_kept() -> None:
    tail = OutputTail(3)
    tail.add("".join(f"line {i}\n" for i in range(10)) + "part")
    assert tail.text() == "line 7\nline 8\nline 9\npart"
    tail.clear()
    assert tail.text() == ""
