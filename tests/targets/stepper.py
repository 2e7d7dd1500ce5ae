"""A program that never ends: every `next` in the loop stops on the following line.

Locals and globals both have a few entries, so an IDE's step (threads, stackTrace,
scopes, then the variables of every scope) has real work to answer.
"""

LIMIT = 10**9
NAMES = ["alpha", "beta", "gamma"]


def main():
    total = 0
    for i in range(LIMIT):
        x = i  # STEP-HERE
        y = x + 1
        z = y * 2
        total += z - 3
    return total


if __name__ == "__main__":
    main()
