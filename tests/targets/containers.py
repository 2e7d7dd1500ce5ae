"""Large containers for the paging tests (tests/debuggers/test_debugpy_paging.py,
tests/api/test_variables_paging.py): main() stops at its print() line (the marker below)."""

import collections

try:  # NumPy and pandas are test dependencies; the program runs without them too
    import numpy
    import pandas
except ImportError:
    numpy = pandas = None


class Flaky:
    """`rows` works once (when the debugger lists it), then raises."""

    def __init__(self):
        self.data = list(range(150))
        self.calls = 0

    @property
    def rows(self):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("rows can be read once")
        return [1, 2, 3]


def main():
    big = [f"item {i}" for i in range(2000)]
    nested = [[i, i * 2] for i in range(2000)]
    mapping = {f"key{i}": i for i in range(1500)}
    numbers = set(range(3000))
    pairs = tuple((i, -i) for i in range(1600))
    queue = collections.deque(range(300))
    flaky = Flaky()
    array = numpy.arange(10**6) if numpy else None
    table = pandas.DataFrame({"n": range(2000), "twice": [2 * i for i in range(2000)]}) \
        if pandas else None
    series = table["twice"] if pandas else None
    len = list = "shadowed"  # the debugger's expressions must not rely on these names
    print(big[0], len, list)  # PAGING-STOP
    return nested, mapping, numbers, pairs, queue, flaky, array, series


main()
