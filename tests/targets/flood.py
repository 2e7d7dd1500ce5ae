import sys

total = int(sys.argv[1])
line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!@#\n"
block = line * 1024
written = 0
out = sys.stdout
while written + len(block) <= total:
    out.write(block)
    written += len(block)
out.write((line * (total // len(line) + 1))[: total - written])
# Exit at once: whatever is still in the pipe must not be lost.
