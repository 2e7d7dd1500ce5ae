import sys


def add(a, b):
    total = a + b
    return total


def main():
    values = [1, 2, 3]
    result = 0
    for v in values:
        result = add(result, v)
    print("result", result)
    sys.stdout.flush()
    print("to stderr", file=sys.stderr)
    return result


if __name__ == "__main__":
    code = main()
    sys.exit(code - 6 + int(sys.argv[1]) if len(sys.argv) > 1 else 0)
