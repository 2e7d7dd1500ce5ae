import sys
import time

print("ready", flush=True)
counter = 0
while True:
    counter += 1  # ATTACH-HERE
    time.sleep(0.01)
    if counter > 10**9:
        sys.exit(0)
