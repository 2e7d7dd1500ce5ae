"""A small program to try the debugger on: `serve --demo` stops in main(), at the marked line."""

import sys


def fibonacci(n):
    """Return the first n Fibonacci numbers."""
    numbers = [0, 1]
    while len(numbers) < n:
        numbers.append(numbers[-1] + numbers[-2])
    return numbers[:n]


def describe(numbers):
    evens = [x for x in numbers if x % 2 == 0]
    return {"count": len(numbers), "evens": len(evens), "last": numbers[-1]}


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 12
    numbers = fibonacci(n)  # DEMO-BREAKPOINT
    summary = describe(numbers)
    print("fibonacci:", numbers)
    print("summary:", summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
