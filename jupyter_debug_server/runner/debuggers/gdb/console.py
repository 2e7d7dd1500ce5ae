"""Which of gdb's console stream records reach the client as `console` output.

gdb prints a report on the console at every stop it announces: a blank line, the
breakpoint's headline (`Breakpoint 1, main () at points.c:33`), the frame after a
signal and the source line. The DAP `stopped` event already says all of it, so a
client would get one line of noise per breakpoint hit; that report is dropped here.
Everything else gdb prints (thread and inferior notices, signals, warnings) passes.
"""

from __future__ import annotations

import re

_HEADLINE = re.compile(
    r'^\n?(Thread \d+ (".*" )?hit )?'  # `Thread 2 "worker" hit Breakpoint 1, ...`
    r"(Temporary breakpoint|Breakpoint|Catchpoint|(Hardware )?(read |access )?"
    r"[Ww]atchpoint|Hardware access \(read/write\) watchpoint) \d+(\.\d+)?[,:( ]")
# `33\t    total += ...`: gdb's listing of the line it stopped at.
_SOURCE_LINE = re.compile(r"^\d+\t")
# `0x000055555555517b in main () at crash.c:7`: the frame of a signal stop.
_FRAME_LINE = re.compile(r"^(0x[0-9a-fA-F]+ in )?\S+ \(.*\) at \S+:\d+\n$")


class ConsoleFilter:
    """Decides record by record; owned by one adapter (it remembers a split headline)."""

    def __init__(self) -> None:
        self._in_headline = False  # a headline whose line has not ended yet

    def passes(self, text: str) -> bool:
        """True if `text`, one console stream record, is worth showing to a user."""
        if self._in_headline:
            self._in_headline = not text.endswith("\n")
            return False
        if text == "\n" or _SOURCE_LINE.match(text) or _FRAME_LINE.match(text):
            return False
        if _HEADLINE.match(text):
            self._in_headline = not text.endswith("\n")
            return False
        return True
