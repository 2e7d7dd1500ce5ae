"""Raises and catches an exception on every pass of a loop after the third: a stop with
the `raised` exception filter, none with `uncaught`; it ends with sys.exit(code)."""

import sys


def risky(n):
    if n > 2:
        raise ValueError(f"too big: {n}")  # RAISE-LINE
    return n


def main():
    total = 0
    for i in range(5):
        try:
            total += risky(i)
        except ValueError:
            total -= 1
    print("total", total)
    return total


if __name__ == "__main__":
    main()
    sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
