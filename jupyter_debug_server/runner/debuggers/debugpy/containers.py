"""The Python containers the debugpy worker pages, and the hidden expressions it asks
pydevd to evaluate for them (see paging.py).

pydevd lists at most 100 items of a list (then a "more" group) and 500 of a dict or set,
and ignores DAP's `start`/`count`. The worker pages such a container itself: it learns the
container's kind and length with one expression per answer (`probe`), then reads each page
as a small list (or dict) built by another expression (`chunk`) whose children pydevd
lists in its own style. Every expression here reads the program's objects only through
an expression pydevd gave (a variable's `evaluateName`) that is `plain`: names, attributes
and constant subscripts, so nothing the user wrote is run twice.

Inside pydevd an expression sees the frame's locals as its globals, so the program may
shadow `len` or `list`: every builtin is reached through `b`, bound to the `builtins`
module as a default argument.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

#: Types (pydevd's `type` field) worth probing; a subclass under another name is not
#: probed and keeps pydevd's own listing.
TYPES = frozenset({
    "list", "tuple", "dict", "set", "frozenset", "deque", "OrderedDict", "defaultdict",
    "Counter", "ndarray", "memmap", "DataFrame", "Series"})

#: The kind of one object and its length, "kind:length", or "-" for anything else.
_KIND = (
    "lambda o, b=__import__('builtins'): "
    "'seq:%d' % b.len(o) if b.isinstance(o, (b.list, b.tuple)) else "
    "'map:%d' % b.len(o) if b.isinstance(o, b.dict) else "
    "'set:%d' % b.len(o) if b.isinstance(o, (b.set, b.frozenset)) else "
    "'deque:%d' % b.len(o) if b.isinstance(o, b.__import__('collections').deque) else "
    "'array:%d' % b.len(o) if b.any(c.__name__ == 'ndarray' and c.__module__ == 'numpy' "
    "for c in b.type(o).__mro__) and o.ndim else "
    "'dataframe:%d' % b.len(o) if b.any(c.__name__ == 'DataFrame' and "
    "c.__module__.startswith('pandas') for c in b.type(o).__mro__) else "
    "'series:%d' % b.len(o) if b.any(c.__name__ == 'Series' and "
    "c.__module__.startswith('pandas') for c in b.type(o).__mro__) else '-'")

KINDS = frozenset({"seq", "map", "set", "deque", "array", "dataframe", "series"})

#: Items per hidden page: pydevd lists up to 100 items of a list before its "more" group
#: (PYDEVD_CONTAINER_INITIAL_EXPANDED_ITEMS); a page it lists shorter is read on from there.
CHUNK = 100
#: Items of one `variables` answer at most, when a client asks for all of them.
MAX_PAGE = 10_000

#: What pydevd lists beside the items of a container: its groups, `len()`, and the line
#: it shows where it stopped listing.
NOT_ITEMS = frozenset({"special variables", "function variables", "class variables",
                       "protected variables", "len()", "Unable to handle:", "more"})


@dataclass(frozen=True)
class Container:
    """A container of the program: where it is (`frame`, `expression`), its kind, length."""

    frame: int
    expression: str
    kind: str
    length: int

    def item_name(self, index: int) -> str:
        """pydevd's name of item `index` of a sequence: zero-padded to the last index."""
        return f"{index:0{len(str(max(self.length - 1, 0)))}d}"

    def item_expression(self, index: int) -> str | None:
        """The expression of item `index` (None for a set's: it has none)."""
        if self.kind in ("seq", "deque", "array"):
            return f"{self.expression}[{index}]"
        if self.kind in ("series", "dataframe"):
            return f"{self.expression}.iloc[{index}]"
        return None  # a set; a dict's items keep pydevd's own expression (see paging.py)

    def chunk(self, start: int, stop: int) -> str:
        """The expression of items `start`..`stop` as a list (a dict for a dict)."""
        e, b, islice = self.expression, "__import__('builtins')", "__import__('itertools').islice"
        if self.kind == "map":
            return f"{b}.dict({islice}({e}.items(), {start}, {stop}))"
        if self.kind in ("set", "deque"):
            return f"{b}.list({islice}({e}, {start}, {stop}))"
        if self.kind == "series":
            return f"{b}.list({e}.iloc[{start}:{stop}])"
        if self.kind == "dataframe":
            return f"[r for _, r in {e}.iloc[{start}:{stop}].iterrows()]"
        return f"{b}.list({e}[{start}:{stop}])"  # seq, array


def probe(expressions: list[str]) -> str:
    """One expression whose value is "kind:length" (or "-") per expression, space-separated."""
    return (f"(lambda k, *o, b=__import__('builtins'): ' '.join(b.map(k, o)))"
            f"({_KIND}, {', '.join(expressions)})")


def parse_probe(result: str, count: int) -> list[tuple[str, int] | None]:
    """The kinds and lengths of a probe's value as pydevd shows it (a quoted string)."""
    try:
        text = ast.literal_eval(result)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return [None] * count
    words = text.split() if isinstance(text, str) else []
    if len(words) != count:
        return [None] * count
    out: list[tuple[str, int] | None] = []
    for word in words:
        kind, _, length = word.partition(":")
        out.append((kind, int(length)) if kind in KINDS and length.isdigit() else None)
    return out


def plain(expression: str) -> bool:
    """Whether `expression` only names, takes attributes and subscripts by constants
    (`x`, `self.rows`, `d['key'][3]`): evaluating it again runs nothing the user wrote
    but attribute and item access."""
    if not expression or len(expression) > 2000:
        return False
    try:
        node = ast.parse(expression, mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    while True:
        if isinstance(node, ast.Name):
            return True
        if not (isinstance(node, ast.Attribute)
                or (isinstance(node, ast.Subscript) and _constant(node.slice))):
            return False
        node = node.value


def _constant(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, ast.Tuple):
        return all(_constant(item) for item in node.elts)
    if isinstance(node, ast.Slice):
        return all(part is None or _constant(part)
                   for part in (node.lower, node.upper, node.step))
    return False
