"""Runs as the server inside the cell: reads the secret file named by $TOKEN_FILE every 100 ms
for SECONDS seconds and prints, for each distinct value, the issue time it carries (the test's
helper writes "tok-<unix ns>") and when it was first seen. Never prints a value. Then checks the
file and its directory are read-only and prints where the directory comes from (mountinfo).
Usage: watch_token_file.py SECONDS [MARKER] (the marker only makes the process findable)."""
import os
import sys
import time

seconds = float(sys.argv[1])
path = os.environ["TOKEN_FILE"]
print(f"path {path}", flush=True)
seen = set()
end = time.time() + seconds
while time.time() < end:
    with open(path) as f:
        value = f.read()
    if value not in seen:
        seen.add(value)
        issued = value.split("-", 1)[1] if value.startswith("tok-") else "?"
        print(f"seen issued={issued} at={time.time_ns()} len={len(value)}", flush=True)
    time.sleep(0.1)
for what, op in [("file", lambda: open(path, "a")), ("dir", lambda: open(os.path.join(os.path.dirname(path), "new"), "w"))]:
    try:
        op()
        print(f"WRITABLE {what}", flush=True)
    except OSError as e:
        print(f"readonly {what} errno={e.errno}", flush=True)
with open("/proc/self/mountinfo") as f:
    for line in f:
        fields = line.split()
        if fields[4] == os.path.dirname(path):
            print(f"mount root={fields[3]} options={fields[5]}", flush=True)
