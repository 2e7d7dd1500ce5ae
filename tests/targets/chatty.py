import os
import sys

print("before", os.environ.get("CHATTY_GREETING", "-"), sys.argv[1:], flush=True)
print("to stderr", file=sys.stderr, flush=True)
marker = 1  # CHATTY-BREAK
for i in range(3):
    print("after", i, flush=True)
