"""Benchmark target: an endless loop of simple statements.

``next`` from any line of the loop body stops on the following line, so every step is the
same amount of debugger work. The benchmark sets its breakpoint on the line that carries
the marker comment (a hash sign followed by BENCH-BREAK).
"""


def main() -> None:
    total = 0
    for i in range(10**9):
        x = i  # BENCH-BREAK
        y = x + 1
        z = y * 2
        w = z - 3
        total += w
    print(total)


if __name__ == "__main__":
    main()
