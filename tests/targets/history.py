"""The stop history's program (tests/runner/test_snapshots.py): a loop that passes its
breakpoint five times, then a frame with a very large list and string."""

import time

CALLS = []


def slow_watch():
    """A watch that takes a while, and counts how often it was evaluated."""
    time.sleep(0.3)
    CALLS.append(1)
    return len(CALLS)


def main():
    data = {"name": "point", "coords": [3, 4]}
    total = 0
    for i in range(5):
        total += i * 10  # HISTORY-LOOP
    print("total", total, data["name"])
    return total


def big():
    numbers = list(range(10000))
    text = "x" * (10 * 1024 * 1024)
    print(len(numbers), len(text))  # BIG-STOP
    return len(text)


if __name__ == "__main__":
    main()
    big()
