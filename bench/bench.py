#!/usr/bin/env python3
"""mcpcell benchmark drivers (called by bench/run; standard library only).

Subcommands, each writing one JSON file:
  latency      request/response round trips of a 200-byte JSON-RPC line through /bin/cat,
               direct vs in a cell, pinned to one CPU and unpinned; also samples the launcher's
               memory while it relays
  throughput   1 MiB lines streamed through /bin/cat, direct vs in a cell (plus a direct cat in
               a session of its own as a control), under three CPU placements
  mcp-init     spawn -> answer to `initialize` of a real MCP server, bare vs `mcpcell run`
  pkg-init     the same for a cached `npm:` package: bare node vs `npx -y` vs `mcpcell run npm:...`
  cgroup       per-start cost of writing the cell init's pid into cgroup.procs (strace -T),
               plus the kernel stack seen while that write blocks (root)
  phases       start timeline from perf's sched fork/exec/exit tracepoints, mcpcell vs bwrap (root)
  egress       connections through the cell's egress proxy vs direct: set-up time per connection,
               bulk MiB/s (with each process's CPU time), and the launcher's threads and memory
               while 300 connections are held; starts `egress-server` (host) and `egress-client`
               (this file, run by /usr/bin/python3 on the host or in a cell)
  relay        g: the MCP-aware relay (a profile with [tools] and [audit] around /bin/cat): round
               trips of tools/call and ping lines vs direct /bin/cat and the zero-copy cell, 1 MiB
               lines streamed, and one audit record per tools/call
  container    h: the container backend: spawn -> initialize answer of a real MCP server with
               `mcpcell exec --backend container` vs `docker run --rm -i` of the same image (plain,
               and with mcpcell's hardening flags) vs the jail; 200-byte round trips and 1 MiB
               lines through /bin/cat in a container, mcpcell vs docker run -i
  report       read every JSON (and hyperfine's) in a directory, print the table, write markdown

Every loop is bounded (counts and deadlines); every process is local.
"""

import argparse
import json
import os
import re
import select
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time

MIB = 1 << 20


# --------------------------------------------------------------------------------------------
# helpers


def spawn(cmd, new_session=False):
    """Start a server with pipes on stdin/stdout (stderr discarded), unbuffered."""
    return subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0, close_fds=True,
        start_new_session=new_session,
    )


def finish(p, timeout=15.0):
    """Close the server's stdin (the MCP shutdown signal) and reap it; SIGKILL if it lingers."""
    try:
        p.stdin.close()
    except OSError:
        pass
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()
    finally:
        p.stdout.close()


def read_exact(fd, n, deadline):
    buf = bytearray()
    while len(buf) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {len(buf)} of {n} bytes")
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise EOFError(f"server closed stdout after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def proc_status(pid):
    """VmRSS / VmHWM (KiB) from /proc/PID/status and Pss (KiB) from smaps_rollup."""
    out = {"pid": pid}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, val = line.partition(":")
                if key in ("Name", "VmRSS", "VmHWM"):
                    out[key] = val.strip() if key == "Name" else int(val.split()[0])
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    out["Pss"] = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return out


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def summary(samples):
    s = sorted(samples)
    q = lambda f: s[min(len(s) - 1, int(f * len(s)))]  # noqa: E731
    return {"n": len(s), "median": statistics.median(s), "p10": q(0.10), "p90": q(0.90), "p99": q(0.99),
            "min": s[0], "max": s[-1], "mean": statistics.fmean(s)}


def write_json(path, data):
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


def variants(mcpcell, server):
    return [("direct", server), ("mcpcell", [mcpcell, "exec", "--"] + server)]


# --------------------------------------------------------------------------------------------
# latency


def jsonrpc_line(i, size=200):
    """A tools/call request padded to exactly `size` bytes, newline included."""
    head = '{"jsonrpc":"2.0","id":"%08d","method":"tools/call","params":{"name":"echo","arguments":{"message":"' % i
    tail = '"}}}\n'
    return (head + "x" * (size - len(head) - len(tail)) + tail).encode()


def latency_runs(a, msgs, mode):
    """Alternating runs of both variants; returns ({variant: samples}, memory readings)."""
    size = len(msgs[0])
    per = {"direct": [], "mcpcell": []}
    mem = []
    for rnd in range(a.rounds):
        order = variants(a.mcpcell, ["/bin/cat"])
        if rnd % 2:
            order.reverse()  # alternate who goes first, against drift in background load
        for name, cmd in order:
            p = spawn(cmd)
            infd, outfd = p.stdin.fileno(), p.stdout.fileno()
            deadline = time.monotonic() + 60
            samples = []
            clock = time.perf_counter_ns
            for i, m in enumerate(msgs):
                t0 = clock()
                os.write(infd, m)
                got = os.read(outfd, size)
                while len(got) < size:  # cat answers in one read in practice; be correct anyway
                    more = os.read(outfd, size - len(got))
                    if not more:
                        raise EOFError(f"{name}: server closed stdout")
                    got += more
                t1 = clock()
                if got != m:
                    raise RuntimeError(f"{name}: echo mismatch at message {i}")
                if i >= a.warmup:
                    samples.append((t1 - t0) / 1000.0)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name}: latency run took over 60 s")
            if name == "mcpcell":
                # Still relaying (the server is alive and its stdin open): sample the launcher.
                launcher = proc_status(p.pid)
                inits = children(p.pid)
                init = proc_status(inits[0]) if inits else {}
                mem.append({"mode": mode, "round": rnd, "launcher": launcher, "cell_init": init})
            rc = finish(p)
            if rc != 0:
                raise RuntimeError(f"{name}: server exited {rc}")
            per[name].extend(samples)
    return per, mem


def cmd_latency(a):
    msgs = [jsonrpc_line(i) for i in range(a.n + a.warmup)]
    all_cpus = os.sched_getaffinity(0)
    out = {"message_bytes": len(msgs[0]), "round_trips_per_run": a.n, "warmup": a.warmup, "rounds": a.rounds,
           "unit": "us", "modes": {}, "memory": []}
    # "pinned": driver, launcher and server share one CPU (affinity is inherited), so every
    # round trip is two same-CPU context switches: the stable figure, and the one that shows
    # any per-syscall cost the cell adds (seccomp filter, ...). "unpinned": as the scheduler
    # places them; on a small VM this mixes same-CPU and cross-CPU wake-ups.
    for mode, cpus in (("pinned", {min(all_cpus)}), ("unpinned", all_cpus)):
        os.sched_setaffinity(0, cpus)
        try:
            per, mem = latency_runs(a, msgs, mode)
        finally:
            os.sched_setaffinity(0, all_cpus)
        res = {"cpus": sorted(cpus), "direct": summary(per["direct"]), "mcpcell": summary(per["mcpcell"])}
        res["added_median_us"] = res["mcpcell"]["median"] - res["direct"]["median"]
        out["modes"][mode] = res
        out["memory"] += mem
        print(f"latency ({mode}): direct {res['direct']['median']:.1f} us, mcpcell {res['mcpcell']['median']:.1f} us"
              f" ({res['added_median_us']:+.1f} us)", file=sys.stderr)
    write_json(a.json, out)
    print(f"latency: launcher VmHWM {max(m['launcher'].get('VmHWM', 0) for m in out['memory']) / 1024:.1f} MiB",
          file=sys.stderr)


# --------------------------------------------------------------------------------------------
# throughput


def make_lines_file(path, total_mib):
    """total_mib lines of exactly 1 MiB (newline included), written once and then read from the
    page cache by the feeding process."""
    line = b"x" * (MIB - 1) + b"\n"
    if not (os.path.exists(path) and os.path.getsize(path) == total_mib * MIB):
        with open(path, "wb") as f:
            for _ in range(total_mib):
                f.write(line)
    return path


def stream_once(cmd, data, total_mib, server_cpus=None, driver_cpus=None, new_session=False):
    """Feed `data` (1 MiB lines) through the server: a `/bin/cat data` process writes the server's
    stdin pipe, this process reads its stdout pipe. Timed from the first byte back to the last."""
    ping = b"ready\n"
    mine = os.sched_getaffinity(0)
    if server_cpus:
        os.sched_setaffinity(0, server_cpus)  # inherited by the server (and the launcher, cell init)
    try:
        p = spawn(cmd, new_session)
    finally:
        os.sched_setaffinity(0, driver_cpus or mine)
    feeder = None
    try:
        infd, outfd = p.stdin.fileno(), p.stdout.fileno()
        # Wait until the server answers, so the cell's start is not part of the figure.
        os.write(infd, ping)
        read_exact(outfd, len(ping), time.monotonic() + 30)
        total = total_mib * MIB
        deadline = time.monotonic() + 120
        feeder = subprocess.Popen(["/bin/cat", data], stdout=infd, close_fds=True)
        got = len(os.read(outfd, MIB))
        t0 = time.perf_counter()
        first = got
        while got < total:
            chunk = os.read(outfd, MIB)
            if not chunk:
                raise EOFError(f"server closed stdout after {got} bytes")
            got += len(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError("throughput run took over 120 s")
        t1 = time.perf_counter()
        if feeder.wait(timeout=30) != 0:
            raise RuntimeError("the feeding cat failed")
    finally:
        os.sched_setaffinity(0, mine)
        if feeder and feeder.poll() is None:
            feeder.kill()
            feeder.wait()
    rc = finish(p)
    if rc != 0:
        raise RuntimeError(f"server exited {rc}")
    return (total - first) / MIB / (t1 - t0)


def cmd_throughput(a):
    cpus = sorted(os.sched_getaffinity(0))
    # "one-cpu": driver (feeding cat + reader) and server share one CPU: the CPU cost per byte,
    # stable. "split": server on another CPU than the driver: the usual two-core pipeline.
    # "unpinned": wherever the scheduler puts them (informative; noisy on a small VM).
    data = make_lines_file(os.path.join(a.tmp, f"lines-{a.mib}MiB"), a.mib)
    modes = [("one-cpu", {cpus[0]}, {cpus[0]})]
    if len(cpus) > 1:
        modes.append(("split", {cpus[1]}, {cpus[0]}))
    modes.append(("unpinned", None, None))
    if a.modes:
        modes = [m for m in modes if m[0] in a.modes.split(",")]
    # A control: the direct cat in a session of its own (setsid), as the cell's server is (the
    # cell calls setsid against TIOCSTI). With autogroup scheduling (kernel.sched_autogroup_enabled)
    # a new session is a new scheduling group, which changes CPU placement and fairness.
    three = [("direct", ["/bin/cat"], False), ("direct-setsid", ["/bin/cat"], True),
             ("mcpcell", [a.mcpcell, "exec", "--", "/bin/cat"], False)]
    out = {"line_bytes": MIB, "mib_per_rep": a.mib, "reps": a.reps, "unit": "MiB/s", "modes": {}}
    for mode, server_cpus, driver_cpus in modes:
        per = {name: [] for name, _, _ in three}
        for rnd in range(a.reps):
            order = three if rnd % 2 == 0 else three[::-1]
            for name, cmd, sess in order:
                per[name].append(stream_once(cmd, data, a.mib, server_cpus, driver_cpus, sess))
        res = {"server_cpus": sorted(server_cpus or cpus), "driver_cpus": sorted(driver_cpus or cpus),
               "direct": summary(per["direct"]), "direct-setsid": summary(per["direct-setsid"]),
               "mcpcell": summary(per["mcpcell"]), "samples": per}
        res["setsid_ratio"] = statistics.median(m / d for d, m in zip(per["direct"], per["direct-setsid"]))
        res["mcpcell_vs_setsid_ratio"] = statistics.median(
            m / d for d, m in zip(per["direct-setsid"], per["mcpcell"]))
        res["ratio_of_medians"] = res["mcpcell"]["median"] / res["direct"]["median"]
        # Each round ran both variants back to back: the median of the per-round ratios is
        # robust against background load drifting during the benchmark.
        res["ratio"] = statistics.median(m / d for d, m in zip(per["direct"], per["mcpcell"]))
        out["modes"][mode] = res
        print(f"throughput ({mode}): direct {res['direct']['median']:.0f} MiB/s, mcpcell "
              f"{res['mcpcell']['median']:.0f} MiB/s (median of paired ratios {res['ratio'] * 100:.1f}%); control "
              f"direct+setsid {res['direct-setsid']['median']:.0f} MiB/s ({res['setsid_ratio'] * 100:.1f}%)",
              file=sys.stderr)
    write_json(a.json, out)


# --------------------------------------------------------------------------------------------
# g. inspecting relay: round trips and throughput through the MCP-aware relay (profile with
# [tools] and [audit]) vs direct /bin/cat vs the zero-copy cell

# The one tool the primed tools/list shows; pinned (tofu) in the first inspecting session.
ECHO_TOOL = {"name": "echo", "description": "Echo the text back.",
             "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}


def relay_profiles(tmp, mcpcell_dir=None):
    """Write the zero-copy and the inspecting profile into `tmp`; returns their paths and the
    audit file's. The inspecting one turns on every per-call check: policy (deny), pins (tofu:
    the first tools/list becomes the lockfile, then calls are checked against it), both rate
    limits (high enough never to refuse) and the audit log (large enough never to rotate)."""
    plain = os.path.join(tmp, "relay-zero-copy.toml")
    insp = os.path.join(tmp, "relay-inspect.toml")
    audit = os.path.join(tmp, "audit.jsonl")
    with open(plain, "w") as f:
        f.write('[server]\ncommand = "/bin/cat"\n')
    with open(insp, "w") as f:
        f.write('[server]\ncommand = "/bin/cat"\n\n'
                '[tools]\ndeny = ["nothing-*"]\npins = "tofu"\ncalls_per_minute = 100000\n'
                'tool_calls_per_minute = 100000\n\n'
                f'[audit]\nfile = {json.dumps(audit)}\nmax_bytes = "1GiB"\n')
    for p in (os.path.join(tmp, "relay-inspect.lock.json"), audit, audit + ".1"):
        if os.path.exists(p):
            os.unlink(p)
    return plain, insp, audit


def rpc(obj):
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def call_line(i, size=200, kind="tools/call"):
    """A JSON-RPC request padded to exactly `size` bytes (newline included): a tools/call of
    `echo` (arguments {"text": "xxx…"}) or a ping (params {"pad": "xxx…"}, so both are the same size)."""
    if kind == "tools/call":
        head = '{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo","arguments":{"text":"' % i
        tail = '"}}}\n'
    else:
        head = '{"jsonrpc":"2.0","id":%d,"method":"ping","params":{"pad":"' % i
        tail = '"}}\n'
    return (head + "x" * (size - len(head) - len(tail)) + tail).encode()


def result_line(i, size):
    """A JSON-RPC result padded to exactly `size` bytes (newline included)."""
    head = '{"jsonrpc":"2.0","id":%d,"result":{"content":[{"type":"text","text":"' % i
    tail = '"}]}}\n'
    return (head + "x" * (size - len(head) - len(tail)) + tail).encode()


def read_lines(fd, count, deadline):
    """Read exactly `count` newline-terminated lines (nothing more is expected on the pipe)."""
    buf = b""
    while buf.count(b"\n") < count:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"timed out waiting for {count} lines, got {buf[:300]!r}")
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError(f"server closed stdout; got {buf[:300]!r}")
        buf += chunk
    return buf.split(b"\n")[:count]


def prime(infd, outfd):
    """What a client does first: tools/list. /bin/cat echoes the request, and then echoes the
    result the driver sends, which the relay sees as the server's answer to that tools/list: it
    pins the tools (tofu) or checks them against the lockfile, so that the `echo` calls that
    follow pass the pin check. Fails when the relay hid the tool."""
    os.write(infd, rpc({"jsonrpc": "2.0", "id": "list", "method": "tools/list"})
             + rpc({"jsonrpc": "2.0", "id": "list", "result": {"tools": [ECHO_TOOL]}}))
    _, listed = read_lines(outfd, 2, time.monotonic() + 30)
    tools = json.loads(listed)["result"]["tools"]
    if [t.get("name") for t in tools] != ["echo"]:
        raise RuntimeError(f"the relay did not list the echo tool: {listed[:300]!r}")


def audit_calls(path):
    """`call` records in the audit file (0 when it does not exist yet)."""
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if b'"event":"call"' in line)
    except OSError:
        return 0


def relay_round_trips(cmd, msgs, warmup, name):
    """One server, len(msgs) sequential round trips; returns (samples in µs after the warm-up, launcher memory)."""
    p = spawn(cmd)
    infd, outfd = p.stdin.fileno(), p.stdout.fileno()
    try:
        prime(infd, outfd)
        deadline = time.monotonic() + 60
        samples = []
        clock = time.perf_counter_ns
        for i, m in enumerate(msgs):
            size = len(m)
            t0 = clock()
            os.write(infd, m)
            got = os.read(outfd, size)
            while len(got) < size:  # the relay writes a line and its newline separately
                more = os.read(outfd, size - len(got))
                if not more:
                    raise EOFError(f"{name}: server closed stdout")
                got += more
            t1 = clock()
            if got != m:
                raise RuntimeError(f"{name}: echo mismatch at message {i}: {got[:200]!r}")
            if i >= warmup:
                samples.append((t1 - t0) / 1000.0)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: round trips took over 60 s")
        mem = proc_status(p.pid) if name != "direct" else None
    except BaseException:
        p.kill()
        finish(p)
        raise
    rc = finish(p)
    if rc != 0:
        raise RuntimeError(f"{name}: server exited {rc}")
    return samples, mem


def make_relay_lines(path, total_mib, kind):
    """total_mib JSON-RPC lines of exactly 1 MiB each (distinct ids): tools/call requests with a
    1 MiB argument, or results with a 1 MiB text."""
    if not (os.path.exists(path) and os.path.getsize(path) == total_mib * MIB):
        with open(path, "wb") as f:
            for i in range(total_mib):
                f.write(call_line(1000000 + i, MIB) if kind == "tools/call" else result_line(1000000 + i, MIB))
    return path


def relay_stream_once(cmd, data, total_mib, server_cpus, driver_cpus):
    """Like stream_once, with a JSON-RPC start (tools/list primed, then a ping echoed) so the
    relay forwards everything; timed from the first byte of the data back to the last."""
    mine = os.sched_getaffinity(0)
    os.sched_setaffinity(0, server_cpus)
    try:
        p = spawn(cmd)
    finally:
        os.sched_setaffinity(0, driver_cpus)
    feeder = None
    try:
        infd, outfd = p.stdin.fileno(), p.stdout.fileno()
        prime(infd, outfd)
        os.write(infd, rpc({"jsonrpc": "2.0", "id": "ready", "method": "ping"}))
        read_lines(outfd, 1, time.monotonic() + 30)
        total = total_mib * MIB
        deadline = time.monotonic() + 60
        feeder = subprocess.Popen(["/bin/cat", data], stdout=infd, close_fds=True)
        got = len(os.read(outfd, MIB))
        t0 = time.perf_counter()
        first = got
        while got < total:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([outfd], [], [], left)[0]:
                raise TimeoutError(f"throughput run took over 60 s ({got} of {total} bytes)")
            chunk = os.read(outfd, MIB)
            if not chunk:
                raise EOFError(f"server closed stdout after {got} bytes")
            got += len(chunk)
        t1 = time.perf_counter()
        if feeder.wait(timeout=30) != 0:
            raise RuntimeError("the feeding cat failed")
    except BaseException:
        p.kill()
        finish(p)
        raise
    finally:
        os.sched_setaffinity(0, mine)
        if feeder and feeder.poll() is None:
            feeder.kill()
            feeder.wait()
    rc = finish(p)
    if rc != 0:
        raise RuntimeError(f"server exited {rc}")
    return (total - first) / MIB / (t1 - t0)


def cmd_relay(a):
    t_start = time.monotonic()
    plain, insp, audit = relay_profiles(a.tmp)
    three = [("direct", ["/bin/cat"]), ("zero-copy", [a.mcpcell, "run", plain]), ("inspect", [a.mcpcell, "run", insp])]
    all_cpus = sorted(os.sched_getaffinity(0))
    out = {"message_bytes": 200, "round_trips_per_run": a.n, "warmup": a.warmup, "rounds": a.rounds, "unit": "us",
           "profile": open(insp).read(), "round_trip": {}, "audit": {}, "memory": [], "throughput": {}}
    # Round trips, pinned to one CPU (as b): each kind, the three variants alternating.
    os.sched_setaffinity(0, {all_cpus[0]})
    sent_calls = 0
    try:
        for kind in ("tools/call", "ping"):
            msgs = [call_line(i, 200, kind) for i in range(a.n + a.warmup)]
            per = {name: [] for name, _ in three}
            for rnd in range(a.rounds):
                for name, cmd in (three if rnd % 2 == 0 else three[::-1]):
                    before = audit_calls(audit)
                    samples, mem = relay_round_trips(cmd, msgs, a.warmup, name)
                    per[name].extend(samples)
                    if name == "inspect":
                        added = audit_calls(audit) - before
                        want = len(msgs) if kind == "tools/call" else 0
                        sent_calls += want
                        out["audit"].setdefault("runs", []).append({"kind": kind, "calls_sent": want,
                                                                    "call_records": added})
                    if mem:
                        out["memory"].append({"variant": name, "kind": kind, "launcher": mem})
            res = {name: summary(per[name]) for name in per}
            res["added_inspect_us"] = res["inspect"]["median"] - res["direct"]["median"]
            res["added_zero_copy_us"] = res["zero-copy"]["median"] - res["direct"]["median"]
            res["inspect_vs_zero_copy_us"] = res["inspect"]["median"] - res["zero-copy"]["median"]
            out["round_trip"][kind] = res
            print(f"relay round trip ({kind}, pinned): direct {res['direct']['median']:.1f} us, zero-copy "
                  f"{res['zero-copy']['median']:.1f} us, inspecting {res['inspect']['median']:.1f} us "
                  f"({res['added_inspect_us']:+.1f} us vs direct)", file=sys.stderr)
    finally:
        os.sched_setaffinity(0, set(all_cpus))
    runs = out["audit"].get("runs", [])
    out["audit"].update({"calls_sent": sent_calls, "call_records": sum(r["call_records"] for r in runs),
                         "per_call": all(r["call_records"] == r["calls_sent"] for r in runs),
                         "lockfile": os.path.exists(os.path.join(a.tmp, "relay-inspect.lock.json"))})
    print(f"relay audit: {out['audit']['call_records']} call records for {sent_calls} tools/call sent; lockfile "
          f"{'written' if out['audit']['lockfile'] else 'MISSING'}", file=sys.stderr)

    # Throughput: 1 MiB lines, direct vs inspecting relay, paired rounds, two placements.
    modes = [("one-cpu", {all_cpus[0]}, {all_cpus[0]})]
    if len(all_cpus) > 1:
        modes.append(("split", {all_cpus[1]}, {all_cpus[0]}))
    two = [("direct", ["/bin/cat"]), ("inspect", [a.mcpcell, "run", insp])]
    out["throughput"] = {"mib_per_run": a.mib, "reps": a.reps, "line_bytes": MIB, "unit": "MiB/s", "kinds": {}}
    for kind in ("tools/call", "result"):
        data = make_relay_lines(os.path.join(a.tmp, f"relay-{kind.replace('/', '-')}-{a.mib}MiB"), a.mib, kind)
        out["throughput"]["kinds"][kind] = {}
        for mode, server_cpus, driver_cpus in modes:
            per = {"direct": [], "inspect": []}
            for rnd in range(a.reps):
                for name, cmd in (two if rnd % 2 == 0 else two[::-1]):
                    per[name].append(relay_stream_once(cmd, data, a.mib, server_cpus, driver_cpus))
            res = {"server_cpus": sorted(server_cpus), "driver_cpus": sorted(driver_cpus),
                   "direct": summary(per["direct"]), "inspect": summary(per["inspect"]), "samples": per,
                   "ratio": statistics.median(m / d for d, m in zip(per["direct"], per["inspect"]))}
            out["throughput"]["kinds"][kind][mode] = res
            print(f"relay throughput ({kind}, {mode}): direct {res['direct']['median']:.0f} MiB/s, inspecting "
                  f"{res['inspect']['median']:.0f} MiB/s (paired ratio {res['ratio'] * 100:.1f}%)", file=sys.stderr)
    out["seconds"] = time.monotonic() - t_start
    write_json(a.json, out)
    print(f"relay: {out['seconds']:.1f} s", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# real MCP server: spawn -> initialize answer


INITIALIZE = (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "mcpcell-bench", "version": "0"}}}, separators=(",", ":")) + "\n").encode()


def init_once(cmd, env=None):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0,
                         close_fds=True, env=env)
    os.write(p.stdin.fileno(), INITIALIZE)
    outfd = p.stdout.fileno()
    buf = b""
    deadline = time.monotonic() + 30
    elapsed = None
    while elapsed is None:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([outfd], [], [], left)[0]:
            p.kill()
            finish(p)
            raise TimeoutError(f"no initialize answer from {cmd}")
        chunk = os.read(outfd, 65536)
        if not chunk:
            finish(p)
            raise EOFError(f"{cmd} closed stdout before answering initialize")
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("id") == 1:
                if "result" not in msg:
                    raise RuntimeError(f"initialize failed: {line[:300]!r}")
                elapsed = time.perf_counter() - t0
                break
    finish(p)
    return elapsed * 1000.0


def cell_env(mcpcell):
    """The environment a cell gives its server (what `env` prints inside one)."""
    text = subprocess.run([mcpcell, "exec", "--", "/usr/bin/env"], check=True, capture_output=True,
                          text=True).stdout
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def cmd_mcp_init(a):
    bare = shutil.which(a.server)
    if not bare:
        write_json(a.json, {"skipped": f"{a.server} not on PATH"})
        print(f"mcp-init: skipped ({a.server} not on PATH)", file=sys.stderr)
        return
    # Like for like: the bare server gets the same environment as the cell's (the caller's may
    # carry variables that change the server's start, e.g. NODE_EXTRA_CA_CERTS makes node load
    # a CA bundle); the bare run with the caller's whole environment is shown too.
    env = cell_env(a.mcpcell)
    three = [("bare", [bare], env), ("bare-caller-env", [bare], None), ("mcpcell", [a.mcpcell, "run", a.profile], None)]
    per = {name: [] for name, _, _ in three}
    init_once([bare], env)  # warm the page cache for node and the package
    for rnd in range(a.runs):
        for name, cmd, e in (three if rnd % 2 == 0 else three[::-1]):
            per[name].append(init_once(cmd, e))
    out = {"server": a.server, "profile": a.profile, "runs": a.runs, "unit": "ms", "cell_env": sorted(env),
           "samples": per}
    for name in per:
        out[name] = summary(per[name])
    out["added_median_ms"] = out["mcpcell"]["median"] - out["bare"]["median"]
    write_json(a.json, out)
    print(f"mcp-init: bare {out['bare']['median']:.0f} ms (with the caller's env "
          f"{out['bare-caller-env']['median']:.0f} ms), mcpcell {out['mcpcell']['median']:.0f} ms", file=sys.stderr)


def cmd_pkg_init(a):
    """i. start-to-initialize of a cached npm: package: `mcpcell run npm:PKG@V` (installed, pinned,
    verified from the cache) vs `npx -y PKG@V` (warm npm cache) vs bare `node ENTRY` (the same
    installed file, with the cell's environment)."""
    npx = shutil.which("npx")
    node = shutil.which("node")
    if not npx or not node:
        write_json(a.json, {"skipped": "npx or node not on PATH"})
        print("pkg-init: skipped (npx or node not on PATH)", file=sys.stderr)
        return
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(a.work, "cache"), XDG_CONFIG_HOME=os.path.join(a.work, "config"))
    subprocess.run([a.mcpcell, "install", a.spec], check=True, env=env, stdout=subprocess.DEVNULL)
    explain = subprocess.run([a.mcpcell, "explain", a.spec], check=True, env=env, capture_output=True, text=True).stdout
    runs = next(l for l in explain.splitlines() if l.strip().startswith("runs: "))
    argv = shlex.split(runs.strip()[len("runs: "):].split(" (found at ")[0])
    pkg = a.spec[len("npm:"):]
    cell = cell_env(a.mcpcell)
    variants = [("bare node", argv, cell), ("npx -y", [npx, "-y", pkg], None), ("mcpcell run", [a.mcpcell, "run", a.spec], env)]
    # For reference, the same server from a command profile (a global npm install), when there
    # is one: the difference to `mcpcell run npm:...` is what the package path adds.
    if a.command_profile and shutil.which(a.command_server):
        variants.append(("mcpcell run (command profile)", [a.mcpcell, "run", a.command_profile], None))
    for _ in range(2):  # warm npx's cache (the first may download) and the page cache
        for _, cmd, e in variants:
            init_once(cmd, e)
    per = {name: [] for name, _, _ in variants}
    for rnd in range(a.runs):
        for name, cmd, e in (variants if rnd % 2 == 0 else variants[::-1]):
            per[name].append(init_once(cmd, e))
    # What verifying the cached tree costs on its own (`mcpcell install` of a pinned, cached
    # package: load, lockfile, metadata check of every file; no cell).
    verify = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        subprocess.run([a.mcpcell, "install", a.spec], check=True, env=env, stdout=subprocess.DEVNULL)
        verify.append((time.perf_counter() - t0) * 1000.0)
    out = {"spec": a.spec, "runs": a.runs, "unit": "ms", "entry": argv, "samples": per,
           "verify_only": summary(verify)}
    for name in per:
        out[name] = summary(per[name])
    m, n, b = out["mcpcell run"]["median"], out["npx -y"]["median"], out["bare node"]["median"]
    out["ratio_vs_npx"] = m / n
    out["added_vs_bare_ms"] = m - b
    write_json(a.json, out)
    print(f"pkg-init: bare node {b:.0f} ms, npx -y {n:.0f} ms, mcpcell run {m:.0f} ms "
          f"(x{m / n:.2f} of npx, {m - b:+.1f} ms vs bare)", file=sys.stderr)


def pkg_report(h, rows):
    """Section i of the report (package start); adds summary rows."""
    lines = ["## i. Cached `npm:` package: start to `initialize` answer", "",
             f"`{h['spec']}`, {h['runs']} runs per variant, alternating order, after two warm-up rounds "
             "(npx's cache and the page cache warm). `mcpcell run` starts from mcpcell's verified cache "
             "(lockfile present; the tree's metadata is checked, no network); bare node runs the same "
             "installed entry point with the cell's environment.", "",
             "| variant | median | min | max |", "|---|---|---|---|"]
    for name in ("bare node", "npx -y", "mcpcell run", "mcpcell run (command profile)"):
        s = h.get(name)
        if s:
            lines.append(f"| {name} | {s['median']:.1f} ms | {s['min']:.1f} | {s['max']:.1f} |")
    if "verify_only" in h:
        lines += ["", f"`mcpcell install` of the pinned, cached package (verifying the tree's metadata, no cell): "
                      f"{h['verify_only']['median']:.1f} ms median."]
    r, add = h["ratio_vs_npx"], h["added_vs_bare_ms"]
    lines += ["", f"mcpcell ÷ npx: **{r:.2f}** (target ≤ 0.6); mcpcell − bare node: **{add:+.1f} ms** (target ≤ +15 ms).", ""]
    rows.append(("npm: package start: mcpcell / npx", f"{r:.2f}", "≤ 0.60", "met" if r <= 0.6 else "MISSED"))
    rows.append(("npm: package start: mcpcell - bare node", f"{add:+.1f} ms", "≤ +15 ms", "met" if add <= 15 else "MISSED"))
    return lines


# --------------------------------------------------------------------------------------------
# h. container backend


def docker_cmds(image, program):
    plain = ["docker", "run", "--rm", "-i", "-v", "/usr:/usr:ro", image, program]
    hardened = ["docker", "run", "--rm", "-i", "--read-only", "--cap-drop", "ALL", "--security-opt",
                "no-new-privileges:true", "--network", "none", "--log-driver", "none", "--user", "65534:65534",
                "--pids-limit", "512", "--tmpfs", "/tmp:size=256m", "-v", "/usr:/usr:ro", image, program]
    return plain, hardened


def cmd_container(a):
    server = shutil.which(a.server)
    if not server:
        write_json(a.json, {"skipped": f"{a.server} not on PATH"})
        print(f"container: skipped ({a.server} not on PATH)", file=sys.stderr)
        return
    image = a.image
    plain, hardened = docker_cmds(image, server)
    starts = [
        ("docker run", plain),
        ("docker run, hardened flags", hardened),
        ("mcpcell container", [a.mcpcell, "exec", "--backend", "container", "--", server]),
        ("mcpcell jail", [a.mcpcell, "exec", "--", server]),
    ]
    per = {name: [] for name, _ in starts}
    init_once(starts[2][1])  # builds the base image on first use, warms the engine
    for rnd in range(a.runs):
        for name, cmd in (starts if rnd % 2 == 0 else starts[::-1]):
            per[name].append(init_once(cmd))
    out = {"server": a.server, "image": image, "runs": a.runs, "unit": "ms", "samples": per}
    for name in per:
        out[name] = summary(per[name])
    out["added_vs_docker_run_ms"] = out["mcpcell container"]["median"] - out["docker run"]["median"]

    cat_plain, _ = docker_cmds(image, "/bin/cat")
    relays = [("docker run -i", cat_plain), ("mcpcell container", [a.mcpcell, "exec", "--backend", "container", "--", "/bin/cat"])]
    out["round_trip_us"] = {}
    out["throughput_mib_s"] = {}
    data = make_lines_file(os.path.join(a.tmp, "container-lines"), a.mib)
    msgs = [jsonrpc_line(i) for i in range(a.msgs)]
    for name, cmd in relays:
        samples, _ = relay_round_trips(cmd, msgs, 100, name)
        out["round_trip_us"][name] = summary(samples)
        rates = [stream_once(cmd, data, a.mib) for _ in range(a.reps)]
        out["throughput_mib_s"][name] = summary(rates)
    write_json(a.json, out)
    print(f"container: initialize docker run {out['docker run']['median']:.0f} ms, mcpcell container "
          f"{out['mcpcell container']['median']:.0f} ms, jail {out['mcpcell jail']['median']:.0f} ms", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# cgroup.procs write cost


OPEN_RE = re.compile(r'^openat\(AT_FDCWD, "([^"]+)", .*\)\s+=\s+(\d+) <')
WRITE_RE = re.compile(r'^write\((\d+), .*\)\s+=\s+\d+ <([0-9.]+)>')


def cmd_cgroup(a):
    strace = shutil.which("strace")
    runs = []
    if strace:
        trace = os.path.join(a.tmp, "cgroup.strace")
        for _ in range(a.runs):
            time.sleep(a.gap)  # let the kernel's rcu_sync fall back to idle, as between real starts
            subprocess.run([strace, "-T", "-e", "trace=openat,write", "-o", trace, a.mcpcell, "exec", "--",
                            "/bin/true"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            fds, writes = {}, []
            with open(trace) as f:
                for line in f:
                    m = OPEN_RE.match(line)
                    if m:
                        fds[m.group(2)] = m.group(1)
                        continue
                    m = WRITE_RE.match(line)
                    if m and fds.get(m.group(1), "").endswith("/cgroup.procs"):
                        path = fds[m.group(1)]
                        writes.append({"file": path, "ms": float(m.group(2)) * 1000.0})
            runs.append(writes)
    # Which kernel path blocks: sample the launcher's kernel stack while it starts a cell.
    stacks = {}
    for _ in range(a.stack_runs):
        time.sleep(a.gap)
        p = subprocess.Popen([a.mcpcell, "exec", "--", "/bin/true"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        while p.poll() is None:
            try:
                with open(f"/proc/{p.pid}/stack") as f:
                    s = f.read()
            except OSError:
                continue
            if "cgroup" in s:
                key = " <- ".join(re.sub(r"^\[<0>\] ", "", l).split("+")[0] for l in s.strip().splitlines()[:4])
                stacks[key] = stacks.get(key, 0) + 1
    first = [w[0]["ms"] for w in runs if w]
    later = [x["ms"] for w in runs for x in w[1:]]
    out = {"runs": a.runs, "gap_s": a.gap, "writes": runs,
           "first_write_ms": summary(first) if first else None,
           "later_writes_ms": summary(later) if later else None,
           "blocked_stacks": sorted(stacks.items(), key=lambda kv: -kv[1])}
    write_json(a.json, out)
    if first:
        print(f"cgroup: first cgroup.procs write median {out['first_write_ms']['median']:.2f} ms, "
              f"later {out['later_writes_ms']['median'] if later else float('nan'):.3f} ms", file=sys.stderr)
    else:
        print("cgroup: no cgroup.procs writes seen (no writable cgroup, or strace missing)", file=sys.stderr)


# --------------------------------------------------------------------------------------------
# start phases (perf sched tracepoints: fork/exec/exit timestamps, negligible overhead)


EV_RE = re.compile(r"^\s*(\S+)\s+(\d+)\s+([0-9.]+):\s+sched:sched_process_(fork|exec|exit):\s+(.*)$")


def parse_phases(script, launcher_names):
    """Per start: [launcher exec, cell process forked, server forked, /bin/true exec, /bin/true exit,
    launcher exit] in ms from the launcher's exec, from `perf script` lines."""
    runs, cur, tree = [], None, set()
    for line in script.splitlines():
        m = EV_RE.match(line)
        if not m:
            continue
        _comm, pid, ts, ev, rest = m.group(1), int(m.group(2)), float(m.group(3)) * 1000, m.group(4), m.group(5)
        if ev == "exec" and rest.split()[0] in [f"filename={n}" for n in launcher_names]:
            cur = {"top": pid, "t": [ts], "forks": []}
            tree = {pid}
            continue
        if cur is None:
            continue
        if ev == "fork" and pid in tree:
            child = int(re.search(r"child_pid=(\d+)", rest).group(1))
            tree.add(child)
            cur["forks"].append(ts)
        elif ev == "exec" and pid in tree and "filename=/bin/true" in rest:
            cur["true_exec"] = ts
        elif ev == "exit" and pid in tree and "comm=true " in rest:
            cur["true_exit"] = ts
        elif ev == "exit" and pid == cur["top"]:
            if len(cur["forks"]) >= 2 and "true_exec" in cur and "true_exit" in cur:
                t0 = cur["t"][0]
                runs.append([0.0, cur["forks"][0] - t0, cur["forks"][-1] - t0, cur["true_exec"] - t0,
                             cur["true_exit"] - t0, ts - t0])
            cur = None
    return runs


def cmd_phases(a):
    perf = shutil.which("perf")
    if not perf or os.geteuid() != 0:
        write_json(a.json, {"skipped": "needs root and perf"})
        return
    bwrap = a.bwrap.split()
    out = {"runs": a.runs, "gap_s": a.gap, "who": {}}
    data = os.path.join(a.tmp, "phases.perf")
    for who in ["root"] + ([a.user] if a.user else []):
        loop = (f"for i in $(seq {a.runs}); do {a.mcpcell} exec -- /bin/true; sleep {a.gap}; "
                f"{' '.join(bwrap)}; sleep {a.gap}; done")
        cmd = ["sh", "-c", loop] if who == "root" else ["su", "-s", "/bin/sh", who, "-c", loop]
        subprocess.run([perf, "record", "-q", "-o", data, "-a", "-e", "sched:sched_process_fork", "-e",
                        "sched:sched_process_exec", "-e", "sched:sched_process_exit", "--"] + cmd,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
        script = subprocess.run([perf, "script", "-i", data, "-F", "comm,pid,time,event,trace"], check=True,
                                capture_output=True, text=True).stdout
        res = {}
        for name, exe in (("mcpcell", a.mcpcell), ("bwrap", shutil.which(bwrap[0]) or bwrap[0])):
            runs = parse_phases(script, [exe])
            if not runs:
                continue
            cols = list(zip(*runs))
            res[name] = {"n": len(runs), "median_ms": [statistics.median(c) for c in cols]}
        out["who"][who if who == "root" else "unprivileged"] = res
    write_json(a.json, out)
    for who, res in out["who"].items():
        for name, r in res.items():
            print(f"phases ({who}, {name}): " + " ".join(f"{x:.2f}" for x in r["median_ms"]), file=sys.stderr)


PHASES = ["launcher exec → cell process created (pre-clone work + namespace clone)",
          "→ server process forked (uid map, mounts, pivot_root, cgroup join; bwrap: its setup)",
          "→ server exec (per-process hardening: rlimits, caps, Landlock, seccomp)",
          "→ server exit (/bin/true itself)", "→ launcher exit (teardown, reaping, cgroup removal)"]


# --------------------------------------------------------------------------------------------
# egress: connection set-up, bulk transfer and held connections through the egress proxy
#
# Three processes: `egress-server` on the host (listening on the address the test name resolves
# to there, 127.0.0.2), `egress-client` (this file run by Debian's /usr/bin/python3, on the host
# or in a cell that is granted this file's directory with --read) and the `egress` driver, which
# starts both, alternates direct and cell runs, and reads the launcher's /proc entries.

# What every client sends right after connecting. The proxy relays nothing until it has seen the
# client's first bytes (relay() in runtime/src/egress/proxy.rs: it reads the client with a 10 s
# deadline to check TLS SNI / HTTP Host; only if the client stays silent for the whole 10 s does
# it relay as is). "x" is neither a TLS record nor the prefix of an HTTP method, so the sniffer
# classifies it as "other" on the first read and the relay starts at once.
EGRESS_HELLO = b"x"


def egress_server(a):
    """hello port: accept, write 1 byte, then read (discarding) until the client closes.
    bulk port: accept, write --bulk-mib MiB, shut down the write side, read until the client
    closes (no RST, no data left unread). Serves until its stdin closes, at most --deadline s."""
    import selectors
    import socket

    sel = selectors.DefaultSelector()
    hello = socket.create_server((a.addr, 0), backlog=1024)
    bulk = socket.create_server((a.addr, 0), backlog=64)
    for tag, lst in (("hello", hello), ("bulk", bulk)):
        lst.setblocking(False)
        sel.register(lst, selectors.EVENT_READ, tag)
    sel.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
    print(json.dumps({"hello": hello.getsockname()[1], "bulk": bulk.getsockname()[1]}), flush=True)
    block = bytes(4 * MIB)
    total = a.bulk_mib * MIB

    def send_bulk(c):
        try:
            c.settimeout(60)
            view, sent = memoryview(block), 0
            while sent < total:
                n = min(len(block), total - sent)
                c.sendall(view[:n])
                sent += n
            c.shutdown(socket.SHUT_WR)
            while c.recv(65536):
                pass
        except OSError:
            pass
        finally:
            c.close()

    deadline = time.monotonic() + a.deadline
    while time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            if key.data == "stdin":
                if not os.read(key.fd, 4096):
                    return
            elif key.data == "hello":
                while True:
                    try:
                        c, _ = hello.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    c.send(b"!")  # the server speaks first: 1 byte into an empty send buffer
                    sel.register(c, selectors.EVENT_READ, "conn")
            elif key.data == "bulk":
                while True:
                    try:
                        c, _ = bulk.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(True)
                    threading.Thread(target=send_bulk, args=(c,), daemon=True).start()
            else:
                c = key.fileobj
                try:
                    data = c.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(c)
                    c.close()


def egress_client(a):
    """Run by /usr/bin/python3, on the host or in a cell; prints one JSON line per result.
    setup: --n (+ --warmup) sequential connections: resolve the name, connect, send "x", read the
      server's 1 byte, close; per connection the resolve and connect→byte→close times (µs).
    silent: one connection that sends nothing: seconds until the server's byte arrives.
    bulk: one connection, send "x", read to EOF; MiB/s from the first byte to the last.
    hold: print "ready", then on each stdin line "open" open --n connections one after the other
      (connect, "x", read 1 byte, keep open), on "burst" connect and greet all before reading any
      answer, and print "opened"; on "close" close them all and print "closed"."""
    import socket

    clock = time.perf_counter_ns
    deadline = time.monotonic() + a.deadline

    def check_deadline():
        if time.monotonic() > deadline:
            raise TimeoutError(f"egress-client {a.mode}: over {a.deadline} s")

    def resolve():
        return socket.getaddrinfo(a.host, a.port, socket.AF_INET, socket.SOCK_STREAM)[0][4]

    def dial(addr, hello=True):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(a.timeout)
        s.connect(addr)
        if hello:
            s.sendall(EGRESS_HELLO)
        return s

    def say(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    if a.mode == "setup":
        res, ex = [], []
        for i in range(a.warmup + a.n):
            check_deadline()
            t0 = clock()
            addr = resolve()
            t1 = clock()
            s = dial(addr)
            got = s.recv(1)
            s.close()
            t2 = clock()
            if got != b"!":
                raise RuntimeError(f"connection {i}: expected the server's byte, got {got!r}")
            if i >= a.warmup:
                res.append(round((t1 - t0) / 1000, 1))
                ex.append(round((t2 - t1) / 1000, 1))
        say({"resolved_to": addr[0], "resolve_us": res, "exchange_us": ex})
    elif a.mode == "silent":
        addr = resolve()
        s = dial(addr, hello=False)
        t0 = time.perf_counter()
        try:
            got = s.recv(1)
        except socket.timeout:
            got = None
        say({"resolved_to": addr[0], "first_byte_s": time.perf_counter() - t0 if got else None,
             "timeout_s": a.timeout})
        s.close()
    elif a.mode == "bulk":
        say({"ready": os.getpid()})
        if sys.stdin.readline().strip() != "go":
            return
        s = dial(resolve())
        buf = bytearray(MIB)
        view = memoryview(buf)
        cpu0 = time.process_time()
        got = s.recv_into(view)
        t0 = time.perf_counter()
        first = got
        while True:
            n = s.recv_into(view)
            if not n:
                break
            got += n
            if (got & (64 * MIB - 1)) < n:
                check_deadline()
        t1 = time.perf_counter()
        cpu = time.process_time() - cpu0
        s.close()
        say({"bytes": got, "mib_s": (got - first) / MIB / (t1 - t0), "s": t1 - t0, "cpu_s": cpu})
        sys.stdin.read()  # stay until the driver has read the launcher's CPU time
    elif a.mode == "hold":
        held = []
        say({"ready": os.getpid()})
        for line in sys.stdin:
            check_deadline()
            if line.strip() in ("open", "burst"):
                t0 = time.perf_counter()
                addr = resolve()
                if line.strip() == "open":  # one after the other, each answered before the next
                    for i in range(a.n):
                        s = dial(addr)
                        if s.recv(1) != b"!":
                            raise RuntimeError(f"held connection {i}: no byte from the server")
                        held.append(s)
                else:  # all connected and greeted first, then every answer read
                    held = [dial(addr) for _ in range(a.n)]
                    for i, s in enumerate(held):
                        if s.recv(1) != b"!":
                            raise RuntimeError(f"held connection {i}: no byte from the server")
                say({"opened": len(held), "s": time.perf_counter() - t0})
            elif line.strip() == "close":
                for s in held:
                    s.close()
                say({"closed": len(held)})
                held = []
            else:
                break


def cpu_seconds(pid):
    """utime + stime of a process (all its threads, dead ones included), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def task_stats(pid):
    """Threads, VmRSS, VmHWM (KiB) and the thread names of a process."""
    out = proc_status(pid)
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    out["Threads"] = int(line.split()[1])
        names = {}
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                n = f.read().strip()
            names[n] = names.get(n, 0) + 1
        out["thread_names"] = names
    except (OSError, ValueError):
        pass
    return out


class Lines:
    """JSON lines from a child's stdout, each read with a deadline."""

    def __init__(self, p, what):
        self.p, self.what, self.buf = p, what, b""

    def next(self, timeout):
        fd = self.p.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError(f"{self.what}: no answer within {timeout} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError(f"{self.what}: exited (rc {self.p.wait()}) without answering")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)


def cmd_egress(a):
    import ipaddress
    import socket

    here = os.path.dirname(os.path.abspath(__file__))
    script = os.path.abspath(__file__)
    try:
        host_addr = socket.getaddrinfo(a.host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except OSError:
        host_addr = None
    skip = None
    if not os.access(a.python, os.X_OK):
        skip = f"{a.python} is missing"
    elif host_addr is None or not ipaddress.ip_address(host_addr).is_loopback:
        skip = f"{a.host} does not resolve to a loopback address on this host (add `127.0.0.2 {a.host}` to /etc/hosts)"
    if skip:
        write_json(a.json, {"skipped": skip})
        print(f"egress: skipped ({skip})", file=sys.stderr)
        return
    server = subprocess.Popen([sys.executable, script, "egress-server", "--addr", host_addr, "--bulk-mib",
                               str(a.bulk_mib), "--deadline", str(a.deadline)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, close_fds=True)
    logs = os.path.join(a.tmp, "egress-launcher.log")
    out = {"host": a.host, "host_addr": host_addr, "python": a.python, "hello": EGRESS_HELLO.decode()}
    try:
        ports = Lines(server, "egress-server").next(10)
        out["ports"] = ports
        allow = []
        for port in (ports["hello"], ports["bulk"]):
            allow += ["--allow-private-host", f"{a.host}:{port}"]
        cell = [a.mcpcell, "exec", "--read", here] + allow + ["--"]

        def client(mode, in_cell, port, *extra, timeout=None):
            cmd = [a.python, script, "egress-client", "--mode", mode, "--host", a.host, "--port", str(port),
                   "--deadline", str(timeout or 60)] + list(extra)
            return (cell + cmd) if in_cell else cmd

        def run_client(mode, in_cell, port, *extra, timeout=60):
            with open(logs, "ab") as log:
                r = subprocess.run(client(mode, in_cell, port, *extra, timeout=timeout), stdout=subprocess.PIPE,
                                   stderr=log, timeout=timeout + 10)
            if r.returncode != 0:
                raise RuntimeError(f"egress-client {mode} ({'cell' if in_cell else 'direct'}) exited "
                                   f"{r.returncode}; launcher log: {logs}")
            return json.loads(r.stdout.decode().strip().splitlines()[-1])

        # 1. connection set-up: N sequential connections per run, direct and in a cell
        setup = {"n": a.n, "warmup": a.warmup, "rounds": a.setup_rounds}
        per = {"direct": {"resolve_us": [], "exchange_us": []}, "mcpcell": {"resolve_us": [], "exchange_us": []}}
        for rnd in range(a.setup_rounds):
            order = [("direct", False), ("mcpcell", True)]
            for name, in_cell in (order if rnd % 2 == 0 else order[::-1]):
                r = run_client("setup", in_cell, ports["hello"], "--n", str(a.n), "--warmup", str(a.warmup))
                per[name]["resolve_us"] += r["resolve_us"]
                per[name]["exchange_us"] += r["exchange_us"]
                setup[f"{name}_resolved_to"] = r["resolved_to"]
        for name, d in per.items():
            total = [x + y for x, y in zip(d["resolve_us"], d["exchange_us"])]
            setup[name] = {"total_us": summary(total), "resolve_us": summary(d["resolve_us"]),
                           "exchange_us": summary(d["exchange_us"])}
        setup["added_median_ms"] = (setup["mcpcell"]["total_us"]["median"]
                                    - setup["direct"]["total_us"]["median"]) / 1000
        out["setup"] = setup
        print(f"egress set-up: direct {setup['direct']['total_us']['median']:.0f} us, mcpcell "
              f"{setup['mcpcell']['total_us']['median']:.0f} us per connection ({setup['added_median_ms']:+.2f} ms)",
              file=sys.stderr)

        # 1b. a server-speaks-first client that stays silent: how long until the server's byte
        if a.silent:
            out["silent"] = {name: run_client("silent", in_cell, ports["hello"], "--timeout", "15", timeout=30)
                             for name, in_cell in (("direct", False), ("mcpcell", True))}
            print("egress silent client, first byte after: " + ", ".join(
                f"{k} {v['first_byte_s']:.3f} s" if v["first_byte_s"] is not None else f"{k} none"
                for k, v in out["silent"].items()), file=sys.stderr)

        # 2. bulk transfer: one connection per run, rounds alternating; the CPU time each process
        # spent on the transfer (server and launcher from /proc/PID/stat, client its own)
        names = ("direct", "mcpcell")
        bulk = {"mib": a.bulk_mib, "rounds": a.bulk_rounds, "samples": {n: [] for n in names},
                "cpu_s": {n: {"server": 0.0, "launcher": 0.0, "client": 0.0, "wall": 0.0} for n in names}}
        for rnd in range(a.bulk_rounds):
            order = [("direct", False), ("mcpcell", True)]
            for name, in_cell in (order if rnd % 2 == 0 else order[::-1]):
                r = bulk_once(client("bulk", in_cell, ports["bulk"]), server.pid, in_cell, logs)
                if r["bytes"] != a.bulk_mib * MIB:
                    raise RuntimeError(f"bulk {name}: got {r['bytes']} bytes of {a.bulk_mib * MIB}")
                bulk["samples"][name].append(r["mib_s"])
                cpu = bulk["cpu_s"][name]
                for k in ("server", "launcher", "client", "wall"):
                    cpu[k] += r["cpu"][k]
        s = bulk["samples"]
        bulk["direct"], bulk["mcpcell"] = summary(s["direct"]), summary(s["mcpcell"])
        bulk["ratio"] = statistics.median(m / d for d, m in zip(s["direct"], s["mcpcell"]))
        gib = a.bulk_mib * a.bulk_rounds / 1024
        bulk["cpu_s_per_gib"] = {n: {k: v / gib for k, v in c.items()} for n, c in bulk["cpu_s"].items()}
        out["bulk"] = bulk
        print(f"egress bulk: direct {bulk['direct']['median']:.0f} MiB/s, mcpcell {bulk['mcpcell']['median']:.0f} "
              f"MiB/s (median of paired ratios {bulk['ratio'] * 100:.1f}%); CPU s per GiB " + "; ".join(
                  f"{n}: " + ", ".join(f"{k} {v:.2f}" for k, v in c.items()) for n, c in bulk["cpu_s_per_gib"].items()),
              file=sys.stderr)

        # 3. held connections: the launcher's threads and memory before and after, one cell per
        # way of opening them (one after the other; all at once)
        out["hold"] = {how: hold_connections(a, client("hold", True, ports["hello"], "--n", str(a.conns)), logs, how)
                       for how in ("sequential", "burst")}
    finally:
        try:
            server.stdin.close()
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    write_json(a.json, out)


def bulk_once(cmd, server_pid, in_cell, logs):
    """One bulk transfer; the CPU seconds the server, the launcher (in a cell) and the client
    spent between "go" and the last byte."""
    with open(logs, "ab") as log:
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, bufsize=0,
                             close_fds=True)
    lines = Lines(p, "egress-client bulk")
    try:
        lines.next(30)  # "ready": the cell is up
        s0, l0 = cpu_seconds(server_pid), cpu_seconds(p.pid) if in_cell else 0.0
        t0 = time.perf_counter()
        os.write(p.stdin.fileno(), b"go\n")
        r = lines.next(60)
        wall = time.perf_counter() - t0
        s1, l1 = cpu_seconds(server_pid), cpu_seconds(p.pid) if in_cell else 0.0
    finally:
        rc = finish(p)
    if rc != 0:
        raise RuntimeError(f"egress-client bulk exited {rc}; launcher log: {logs}")
    r["cpu"] = {"server": s1 - s0, "launcher": l1 - l0, "client": r["cpu_s"], "wall": wall}
    return r


def hold_connections(a, cmd, logs, how):
    """Open --conns connections from a cell and keep them; the launcher's threads and memory
    before, at the thread peak while they open, once all are open and idle, and after closing."""
    with open(logs, "ab") as log:
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, bufsize=0,
                             close_fds=True)
    lines = Lines(p, "egress-client hold")
    res = {"conns": a.conns, "how": how}
    try:
        lines.next(30)  # "ready": the cell is up, no connection yet
        time.sleep(0.2)
        res["before"] = task_stats(p.pid)
        # Sample the launcher's thread count while the connections open (every 2 ms; only
        # /proc/PID/task is listed, which takes no lock the launcher needs).
        peak = {"Threads": 0}
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                try:
                    n = len(os.listdir(f"/proc/{p.pid}/task"))
                except OSError:
                    n = 0
                peak["Threads"] = max(peak["Threads"], n)
                time.sleep(0.002)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        os.write(p.stdin.fileno(), b"open\n" if how == "sequential" else b"burst\n")
        opened = lines.next(60)
        time.sleep(0.2)
        stop.set()
        sampler.join()
        res["open_s"] = opened["s"]
        res["after"] = task_stats(p.pid)
        res["peak_during_open"] = peak
        os.write(p.stdin.fileno(), b"close\n")
        lines.next(30)
        time.sleep(0.2)
        res["after_close"] = task_stats(p.pid)
    finally:
        rc = finish(p)
    if rc != 0:
        raise RuntimeError(f"egress-client hold exited {rc}; launcher log: {logs}")
    b, f = res["before"], res["after"]
    res["kib_per_conn"] = (f["VmRSS"] - b["VmRSS"]) / a.conns
    print(f"egress hold ({how}): launcher threads {b['Threads']} -> {f['Threads']} "
          f"(peak {res['peak_during_open']['Threads']}), VmRSS {b['VmRSS']} -> {f['VmRSS']} KiB ({res['kib_per_conn']:.1f} KiB per connection) with "
          f"{a.conns} connections held", file=sys.stderr)
    return res


# --------------------------------------------------------------------------------------------
# report


def load(d, name):
    try:
        with open(os.path.join(d, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def hyperfine_medians(docs):
    """{label: (median ms, mean ms, stddev ms, runs, min ms)}, pooling the raw times of every
    hyperfine JSON export given (one per round)."""
    pooled = {}
    for doc in docs:
        for r in (doc or {}).get("results", []):
            cmd = r["command"]
            label = "mcpcell" if "mcpcell" in cmd else "bwrap" if "bwrap" in cmd else "bare /bin/true"
            pooled.setdefault(label, []).extend(r["times"])
    out = {}
    for label, t in pooled.items():
        ms = [x * 1000 for x in t]
        out[label] = (statistics.median(ms), statistics.fmean(ms), statistics.pstdev(ms), len(ms), min(ms))
    return out


def rounds(d, prefix):
    """The hyperfine exports `<prefix>.<n>.json` of every round, in order."""
    names = sorted((n for n in os.listdir(d) if re.fullmatch(re.escape(prefix) + r"\.\d+\.json", n)),
                   key=lambda n: int(n.split(".")[-2]))
    return [load(d, n) for n in names]


def verdict(ok):
    return "**met**" if ok else "**MISSED**"


# Held-connection verdicts. "No per-connection thread": the launcher may gain at most this many
# threads however many connections it holds (a runtime's fixed helpers, not one per connection).
EGRESS_THREADS_SLACK = 2
# "Memory flat": less than one page of launcher memory per idle connection (a socket's state is
# kernel memory; what the launcher itself keeps per connection should be a few hundred bytes).
EGRESS_FLAT_KIB = 4.0


def egress_report(eg, rows):
    """Section f of the markdown report; appends the terminal table's rows to `rows`."""
    lines = ["## f. Egress through the cell's proxy", "",
             f"A server on the host at `{eg['host']}` ({eg['host_addr']}); the client is `{eg['python']}` "
             "run directly on the host, or in `mcpcell exec --allow-private-host "
             f"{eg['host']}:PORT --read <bench dir> -- {eg['python']} bench.py egress-client ...`. Right after "
             f"connecting, every client sends `{eg['hello']}` (1 byte that is neither TLS nor the start of an "
             "HTTP method), so the proxy relays at once rather than waiting for bytes to inspect.", ""]
    s = eg.get("setup")
    if s:
        dd, mm, add = s["direct"], s["mcpcell"], s["added_median_ms"]
        lines += ["### Connection set-up", "",
                  f"{s['n']} sequential connections per run after {s['warmup']} warm-up ones, {s['rounds']} run(s) "
                  "per way: resolve the name (getaddrinfo), connect, send 1 byte, read the server's 1 byte, close. "
                  f"The name resolved to {s.get('direct_resolved_to', '?')} on the host and to "
                  f"{s.get('mcpcell_resolved_to', '?')} (synthetic) in the cell.", "",
                  "| client | per connection: median | p90 | p99 | resolve (median) | connect → byte → close "
                  "(median) | added (median) | target ≤ 1 ms |", "|---|---|---|---|---|---|---|---|"]
        for name, label, x in (("direct", "direct on the host", dd), ("mcpcell", "in a cell, through the proxy", mm)):
            t = x["total_us"]
            extra = f"**{add:+.2f} ms** | {verdict(add <= 1.0)}" if name == "mcpcell" else " | "
            lines.append(f"| {label} | {t['median'] / 1000:.3f} ms | {t['p90'] / 1000:.3f} | {t['p99'] / 1000:.3f} | "
                         f"{x['resolve_us']['median'] / 1000:.3f} ms | {x['exchange_us']['median'] / 1000:.3f} ms | "
                         f"{extra} |")
        lines.append("")
        rows.append(("egress set-up: direct / mcpcell", f"{dd['total_us']['median'] / 1000:.3f} / "
                     f"{mm['total_us']['median'] / 1000:.3f} ms", "", ""))
        rows.append(("egress set-up: added per connection", f"{add:+.2f} ms", "≤ 1 ms",
                     "met" if add <= 1.0 else "MISSED"))
    sil = eg.get("silent")
    if sil:
        def fmt(r):
            t = r["first_byte_s"]
            return f"none in {r['timeout_s']:.0f} s" if t is None else f"{t * 1000:.2f} ms" if t < 1 else f"{t:.3f} s"
        lines += [f"A client that sends nothing and waits for the server to speak first (SMTP, IMAP, FTP, MySQL "
                  f"greetings): the server's byte arrived after {fmt(sil['direct'])} directly and after "
                  f"**{fmt(sil['mcpcell'])}** in a cell.", ""]
        rows.append(("egress server-speaks-first, silent client: first byte direct / mcpcell",
                     f"{fmt(sil['direct'])} / {fmt(sil['mcpcell'])}", "", "info"))
    b = eg.get("bulk")
    if b:
        dd, mm, r = b["direct"], b["mcpcell"], b["ratio"]
        cpu = b["cpu_s_per_gib"]
        lines += ["### Bulk transfer", "",
                  f"The server writes {b['mib']} MiB on each connection; the client reads to EOF (1 MiB reads) and "
                  "times the first byte to the last. One connection per run, direct and cell alternating, "
                  f"{b['rounds']} rounds. Ratio = median over rounds of (cell MiB/s ÷ direct MiB/s in the same "
                  "round). CPU = utime+stime of each process over the transfers (/proc/PID/stat; the client's "
                  "own process_time), per GiB moved.", "",
                  "| client | median MiB/s (min–max) | CPU s/GiB: server | launcher | client | wall s/GiB | "
                  "ratio | target ≥ 80% |", "|---|---|---|---|---|---|---|---|"]
        for name, label, x in (("direct", "direct on the host", dd), ("mcpcell", "in a cell, through the proxy", mm)):
            c = cpu[name]
            extra = f"**{r * 100:.1f}%** | {verdict(r >= 0.8)}" if name == "mcpcell" else " | "
            lines.append(f"| {label} | {x['median']:.0f} ({x['min']:.0f}–{x['max']:.0f}) | {c['server']:.2f} | "
                         f"{c['launcher']:.2f} | {c['client']:.2f} | {c['wall']:.2f} | {extra} |")
        lines.append("")
        rows.append(("egress bulk: direct / mcpcell", f"{dd['median']:.0f} / {mm['median']:.0f} MiB/s", "", ""))
        rows.append(("egress bulk: ratio", f"{r * 100:.1f}%", "≥ 80%", "met" if r >= 0.8 else "MISSED"))
        rows.append(("egress bulk: launcher CPU per GiB", f"{cpu['mcpcell']['launcher']:.2f} s "
                     f"(direct server+client {cpu['direct']['server'] + cpu['direct']['client']:.2f} s)", "", "info"))
    hold = eg.get("hold")
    if hold:
        lines += ["### Held connections: the launcher's threads and memory", "",
                  "From a cell, open connections and keep them (each after its 1-byte exchange, then idle): "
                  "**sequential** = each answered before the next opens; **burst** = all connected and greeted "
                  "first, then every answer read. One cell per way. The launcher's `/proc/PID/status` is read "
                  "before, once all are open (and 0.2 s idle), and 0.2 s after the client closed them all; its "
                  "thread count is also sampled every 2 ms while they open.", "",
                  "| opened | connections | open took | threads: before → peak → held → after close | "
                  "VmRSS before → held → after close | KiB per connection | no per-connection thread | "
                  f"memory flat (< {EGRESS_FLAT_KIB:.0f} KiB/conn) |", "|---|---|---|---|---|---|---|---|"]
        for how, h in hold.items():
            b0, pk, f, c = h["before"], h["peak_during_open"], h["after"], h["after_close"]
            extra_threads = max(pk["Threads"], f["Threads"]) - b0["Threads"]
            ok_t, ok_m = extra_threads <= EGRESS_THREADS_SLACK, h["kib_per_conn"] < EGRESS_FLAT_KIB
            names = ", ".join(f"{n} × {k}" for k, n in sorted(f.get("thread_names", {}).items()))
            lines.append(f"| {how} | {h['conns']} | {h['open_s'] * 1000:.0f} ms | {b0['Threads']} → {pk['Threads']} → "
                         f"{f['Threads']} → {c['Threads']} ({names}) | {b0['VmRSS'] / 1024:.1f} → "
                         f"{f['VmRSS'] / 1024:.1f} → {c['VmRSS'] / 1024:.1f} MiB | **{h['kib_per_conn']:.1f}** | "
                         f"{verdict(ok_t)} (+{extra_threads}) | {verdict(ok_m)} |")
            rows.append((f"egress {h['conns']} held ({how}): launcher threads before / peak",
                         f"{b0['Threads']} / {pk['Threads']}", f"+≤{EGRESS_THREADS_SLACK}", "met" if ok_t else "MISSED"))
            rows.append((f"egress {h['conns']} held ({how}): launcher VmRSS before / held",
                         f"{b0['VmRSS'] / 1024:.1f} / {f['VmRSS'] / 1024:.1f} MiB ({h['kib_per_conn']:.1f} KiB/conn)",
                         f"<{EGRESS_FLAT_KIB:.0f} KiB", "met" if ok_m else "MISSED"))
        lines.append("")
    return lines


def relay_report(g, rows):
    """Section g of the report (inspecting relay); adds summary rows."""
    lines = ["## g. Inspecting relay (profile with [tools] and [audit] around /bin/cat)", "",
             f"{g['message_bytes']}-byte JSON-RPC lines, {g['round_trips_per_run']} timed round trips per run after "
             f"{g['warmup']} warm-up ones, {g['rounds']} runs per variant (alternating), pooled; pinned to one CPU. "
             "Each run first primes tools/list (the relay pins `echo` on first use and checks every call "
             "against the pin).", "",
             "| line | direct `/bin/cat` | `mcpcell run` zero-copy | `mcpcell run` inspecting | added vs direct | "
             "inspecting − zero-copy | target ≤ 30 µs |", "|---|---|---|---|---|---|---|"]
    for kind, res in g["round_trip"].items():
        d, z, i, add = res["direct"], res["zero-copy"], res["inspect"], res["added_inspect_us"]
        lines.append(f"| `{kind}` | {d['median']:.1f} µs (p99 {d['p99']:.1f}) | {z['median']:.1f} µs (p99 {z['p99']:.1f}) "
                     f"| {i['median']:.1f} µs (p99 {i['p99']:.1f}) | **{add:+.1f} µs** | "
                     f"{res['inspect_vs_zero_copy_us']:+.1f} µs | {verdict(add <= 30)} |")
        rows.append((f"inspecting relay, {kind}: direct / zero-copy / inspecting",
                     f"{d['median']:.1f} / {z['median']:.1f} / {i['median']:.1f} µs", "", ""))
        rows.append((f"inspecting relay, {kind}: added", f"{add:+.1f} µs", "≤ 30 µs", "met" if add <= 30 else "MISSED"))
    au = g.get("audit", {})
    if au:
        ok = au.get("per_call") and au.get("call_records") == au.get("calls_sent")
        lines += ["", f"Audit: **{au['call_records']}** `call` records for **{au['calls_sent']}** tools/call sent "
                  f"({'one per call' if ok else 'NOT one per call'}); lockfile written by tofu: "
                  f"{'yes' if au.get('lockfile') else 'no'}."]
        rows.append(("inspecting relay: audit call records / calls sent", f"{au['call_records']} / {au['calls_sent']}",
                     "equal", "met" if ok else "MISSED"))
    tp = g.get("throughput", {})
    if tp.get("kinds"):
        lines += ["", f"Throughput: {tp['mib_per_run']} MiB of 1 MiB lines per run, {tp['reps']} rounds per placement "
                  "(direct and inspecting back to back, order alternating). Ratio = median over rounds of "
                  "(inspecting ÷ direct).", "",
                  "| 1 MiB line | placement | direct MiB/s (min–max) | inspecting MiB/s (min–max) | ratio | target ≥ 85% |",
                  "|---|---|---|---|---|---|"]
        for kind, modes in tp["kinds"].items():
            for mode, res in modes.items():
                d, i, r = res["direct"], res["inspect"], res["ratio"]
                lines.append(f"| `{kind}` | {mode} | {d['median']:.0f} ({d['min']:.0f}–{d['max']:.0f}) | "
                             f"{i['median']:.0f} ({i['min']:.0f}–{i['max']:.0f}) | **{r * 100:.1f}%** | {verdict(r >= 0.85)} |")
                rows.append((f"inspecting relay throughput, {kind}, {mode}: direct / inspecting",
                             f"{d['median']:.0f} / {i['median']:.0f} MiB/s", "", ""))
                rows.append((f"inspecting relay throughput, {kind}, {mode}: ratio", f"{r * 100:.1f}%", "≥ 85%",
                             "met" if r >= 0.85 else "MISSED"))
    mem = g.get("memory") or []
    insp = [m["launcher"].get("VmHWM", 0) for m in mem if m["variant"] == "inspect"]
    if insp:
        lines += ["", f"Launcher VmHWM after an inspecting round-trip run: {max(insp) / 1024:.2f} MiB (worst run)."]
    lines.append("")
    return lines


def cmd_report(a):
    d = a.dir
    meta = load(d, "meta.json") or {}
    lines, rows = [], []  # markdown lines; (figure, value, target, status) for the terminal table

    lines += [f"# mcpcell benchmark results", "",
              f"- date: {meta.get('date', '?')}", f"- host: {meta.get('host', '?')}",
              f"- kernel: {meta.get('kernel', '?')}; cgroups: {meta.get('cgroups', '?')}",
              f"- mcpcell: {meta.get('commit', '?')}", f"- load average before/after: "
              f"{meta.get('load_before', '?')} / {meta.get('load_after', '?')}", ""]

    lines += ["## a. Cell start (`/bin/true`), hyperfine -N", "",
              "| who runs it | mcpcell median | bwrap median | bare median | mcpcell/bwrap | target |",
              "|---|---|---|---|---|---|"]
    for tag, title in (("start-root", "root, back to back"),
                       ("start-root-cold", "root, 0.1 s pause before each start"),
                       ("start-user", "unprivileged user, back to back"),
                       ("start-user-cold", "unprivileged user, 0.1 s pause before each start")):
        hm = hyperfine_medians(rounds(d, tag))
        if not hm:
            lines.append(f"| {title} | (not run) | | | | |")
            continue
        m, b, t = hm.get("mcpcell"), hm.get("bwrap"), hm.get("bare /bin/true")
        ratio = m[0] / b[0]
        ok = m[0] <= b[0]
        bare = f"{t[0]:.2f} ms" if t else "(not run)"
        lines.append(f"| {title} | {m[0]:.2f} ms (mean {m[1]:.2f} ± {m[2]:.2f}, min {m[4]:.2f}, n={m[3]}) | "
                     f"{b[0]:.2f} ms (mean {b[1]:.2f} ± {b[2]:.2f}, min {b[4]:.2f}, n={b[3]}) | {bare} | "
                     f"{ratio:.2f} | ≤ 1.00: {verdict(ok)} |")
        rows.append((f"start, {title}: mcpcell / bwrap" + (" / bare" if t else ""),
                     f"{m[0]:.2f} / {b[0]:.2f}" + (f" / {t[0]:.2f}" if t else "") + " ms", "", ""))
        rows.append((f"start, {title}: mcpcell÷bwrap", f"{ratio:.2f}", "≤ 1.00", "met" if ok else "MISSED"))
    lines.append("")

    cg = load(d, "cgroup.json")
    if cg:
        lines += ["### Where root's start time goes: the cgroup.procs write", ""]
        if cg.get("first_write_ms"):
            f, l = cg["first_write_ms"], cg.get("later_writes_ms")
            lines.append(f"strace -T on the launcher, {cg['runs']} starts spaced {cg['gap_s']} s apart: the first "
                         f"`cgroup.procs` write of each start took median **{f['median']:.2f} ms** "
                         f"(min {f['min']:.2f}, max {f['max']:.2f}); the next one(s) "
                         f"{l['median']:.3f} ms median." if l else "")
            rows.append(("start, root: first cgroup.procs write", f"{f['median']:.2f} ms (min {f['min']:.2f}, "
                         f"max {f['max']:.2f})", "", "info"))
        else:
            lines.append("No `cgroup.procs` write seen (no writable cgroup for this user, or strace missing).")
        if cg.get("blocked_stacks"):
            lines += ["", "Kernel stacks of the launcher sampled while blocked in it (samples):", ""]
            lines += [f"- `{k}` ({n})" for k, n in cg["blocked_stacks"][:3]]
        lines.append("")

    ph = load(d, "phases.json")
    if ph and "skipped" not in ph:
        lines += ["### Start phases (perf sched tracepoints, medians)", "",
                  f"`perf record -e sched:sched_process_{{fork,exec,exit}}`, {ph['runs']} starts of each, "
                  f"{ph['gap_s']} s apart; each phase's median duration in ms (medians of the cumulative "
                  "timestamps, differenced).", ""]
        for who, res in ph["who"].items():
            if not res:
                continue
            names = list(res)
            lines += [f"**{who}**", "", "| phase | " + " | ".join(names) + " |",
                      "|---|" + "---|" * len(names)]
            cum = {n: res[n]["median_ms"] for n in names}
            for i, label in enumerate(PHASES, start=1):
                lines.append(f"| {label} | " + " | ".join(f"{cum[n][i] - cum[n][i - 1]:.2f}" for n in names) + " |")
            lines.append("| **total** | " + " | ".join(f"**{cum[n][-1]:.2f}**" for n in names) + " |")
            lines.append("")

    memlines, memrows = [], []  # section d, printed after c
    lat = load(d, "latency.json")
    if lat:
        lines += ["## b. Relay round trip (/bin/cat echo)", "",
                  f"{lat['message_bytes']}-byte JSON-RPC line, {lat['round_trips_per_run']} timed round trips per "
                  f"run after {lat['warmup']} warm-up ones, {lat['rounds']} runs per variant (alternating), "
                  "all round trips pooled.", "",
                  "| CPU placement | server | median | p10 | p90 | p99 | added (median) | target ≤ 20 µs |",
                  "|---|---|---|---|---|---|---|---|"]
        for mode, res in lat["modes"].items():
            dd, mm, add = res["direct"], res["mcpcell"], res["added_median_us"]
            where = f"{mode} (cpus {','.join(map(str, res['cpus']))})"
            lines.append(f"| {where} | `/bin/cat` direct | {dd['median']:.1f} µs | {dd['p10']:.1f} | {dd['p90']:.1f} | "
                         f"{dd['p99']:.1f} | | |")
            lines.append(f"| {where} | `mcpcell exec -- /bin/cat` | {mm['median']:.1f} µs | {mm['p10']:.1f} | "
                         f"{mm['p90']:.1f} | {mm['p99']:.1f} | **{add:+.1f} µs** | {verdict(add <= 20)} |")
            rows.append((f"relay round trip, {mode}: direct / mcpcell", f"{dd['median']:.1f} / {mm['median']:.1f} µs",
                         "", ""))
            rows.append((f"relay round trip, {mode}: added", f"{add:+.1f} µs", "≤ 20 µs",
                         "met" if add <= 20 else "MISSED"))
        lines.append("")
        mem = lat.get("memory") or []
        if mem:
            rss = max(x["launcher"].get("VmRSS", 0) for x in mem) / 1024
            hwm = max(x["launcher"].get("VmHWM", 0) for x in mem) / 1024
            pss = max(x["launcher"].get("Pss", 0) for x in mem) / 1024
            irss = max(x["cell_init"].get("VmRSS", 0) for x in mem) / 1024
            ipss = max(x["cell_init"].get("Pss", 0) for x in mem) / 1024
            memlines = ["## d. Launcher memory while relaying", "",
                      "Read from `/proc/<launcher pid>/status` (and `smaps_rollup`) at the end of each mcpcell "
                      "latency run, while the server is still serving; worst of the runs.", "",
                      "| process | VmRSS | VmHWM | Pss |", "|---|---|---|---|",
                      f"| launcher (`mcpcell`, host side) | {rss:.2f} MiB | {hwm:.2f} MiB | {pss:.2f} MiB |",
                      f"| cell init (pid 1 in the cell) | {irss:.2f} MiB | | {ipss:.2f} MiB |", "",
                      f"Target launcher RSS ≤ 10 MiB: {verdict(hwm <= 10)} (judged on VmHWM, the peak).", ""]
            memrows = [("launcher VmRSS / VmHWM", f"{rss:.2f} / {hwm:.2f} MiB", "≤ 10 MiB",
                        "met" if hwm <= 10 else "MISSED"),
                       ("cell init VmRSS / Pss", f"{irss:.2f} / {ipss:.2f} MiB", "", "info")]

    tp = load(d, "throughput.json")
    if tp:
        lines += ["## c. Throughput, 1 MiB lines through /bin/cat", "",
                  f"{tp['mib_per_rep']} MiB per run, {tp['reps']} rounds per CPU placement, each round running "
                  "both variants back to back (order alternating). Ratio = median over rounds of "
                  "(mcpcell MiB/s ÷ direct MiB/s in the same round).", "",
                  "| CPU placement | direct median MiB/s (min–max) | mcpcell median MiB/s (min–max) | ratio | "
                  "target ≥ 90% | control: direct cat + setsid (ratio to direct) | mcpcell ÷ setsid control |",
                  "|---|---|---|---|---|---|---|"]
        for mode, res in tp["modes"].items():
            dd, mm, r = res["direct"], res["mcpcell"], res["ratio"]
            ss = res.get("direct-setsid")
            where = f"{mode} (server cpus {','.join(map(str, res['server_cpus']))}, driver cpus " \
                    f"{','.join(map(str, res['driver_cpus']))})"
            ctl = (f"{ss['median']:.0f} ({res['setsid_ratio'] * 100:.1f}%) | "
                   f"{res['mcpcell_vs_setsid_ratio'] * 100:.1f}%") if ss else " | "
            # Unpinned placement is left to the scheduler: its ratio swings ±20% between runs for
            # the setsid control as much as for mcpcell (BENCHMARKS.md), so it informs, not judges.
            judged = mode != "unpinned"
            status = verdict(r >= 0.9) if judged else "informative (placement noise)"
            lines.append(f"| {where} | {dd['median']:.0f} ({dd['min']:.0f}–{dd['max']:.0f}) | {mm['median']:.0f} "
                         f"({mm['min']:.0f}–{mm['max']:.0f}) | **{r * 100:.1f}%** | {status} | {ctl} |")
            rows.append((f"throughput, {mode}: direct / mcpcell", f"{dd['median']:.0f} / {mm['median']:.0f} MiB/s",
                         "", ""))
            rows.append((f"throughput, {mode}: ratio" + ("" if judged else f" (setsid control {res['setsid_ratio'] * 100:.0f}%)"),
                         f"{r * 100:.1f}%", "≥ 90%" if judged else "",
                         ("met" if r >= 0.9 else "MISSED") if judged else "info"))
        lines.append("")

    lines += memlines
    rows += memrows

    ct = load(d, "container.json")
    if ct and "skipped" not in ct:
        dr, mc, jl = ct["docker run"], ct["mcpcell container"], ct["mcpcell jail"]
        hd = ct["docker run, hardened flags"]
        lines += ["## h. Container backend (same run)", "",
                  f"`{ct['server']}` spawn → `initialize` answer, {ct['runs']} runs each (alternating); "
                  f"image `{ct['image']}` with the host's /usr bound read-only in every case.", "",
                  "| how | median | min | max |", "|---|---|---|---|"]
        for name in ["docker run", "docker run, hardened flags", "mcpcell container", "mcpcell jail"]:
            x = ct[name]
            lines.append(f"| {name} | {x['median']:.0f} ms | {x['min']:.0f} | {x['max']:.0f} |")
        lines += ["", "| relay through /bin/cat | docker run -i | mcpcell container |", "|---|---|---|",
                  f"| 200-byte round trip (median) | {ct['round_trip_us']['docker run -i']['median']:.0f} µs | "
                  f"{ct['round_trip_us']['mcpcell container']['median']:.0f} µs |",
                  f"| 1 MiB lines (median) | {ct['throughput_mib_s']['docker run -i']['median']:.0f} MiB/s | "
                  f"{ct['throughput_mib_s']['mcpcell container']['median']:.0f} MiB/s |", ""]
        added = ct["added_vs_docker_run_ms"]
        rows.append(("container start: docker run / mcpcell", f"{dr['median']:.0f} / {mc['median']:.0f} ms "
                     f"({added:+.0f} ms; hardened docker run {hd['median']:.0f})", "≤ +50 ms",
                     "met" if added <= 50 else "MISSED"))
        rt_d = ct['round_trip_us']['docker run -i']['median']
        rt_m = ct['round_trip_us']['mcpcell container']['median']
        rows.append(("container relay round trip: docker run -i / mcpcell", f"{rt_d:.0f} / {rt_m:.0f} µs", "", "info"))
    elif ct:
        rows.append(("container backend", ct["skipped"], "", "skipped"))
    mi = load(d, "mcp-init.json")
    if mi and "skipped" not in mi:
        bb, mm = mi["bare"], mi["mcpcell"]
        ce = mi.get("bare-caller-env")
        lines += ["## e. Real MCP server: spawn → `initialize` answer (informative)", "",
                  f"`{mi['server']}` bare vs `mcpcell run {mi['profile']}`, {mi['runs']} runs each (alternating). "
                  f"\"bare\" gets the cell's environment ({', '.join(mi.get('cell_env', []))}) so both start the "
                  "same way; \"bare, caller's environment\" inherits everything bench/run was started with.", "",
                  "| how | median | min | max |", "|---|---|---|---|",
                  f"| bare (cell's environment) | {bb['median']:.0f} ms | {bb['min']:.0f} | {bb['max']:.0f} |"]
        if ce:
            lines.append(f"| bare, caller's environment | {ce['median']:.0f} ms | {ce['min']:.0f} | {ce['max']:.0f} |")
        lines += [f"| `mcpcell run {mi['profile']}` | {mm['median']:.0f} ms | {mm['min']:.0f} | {mm['max']:.0f} |",
                  "", f"Added by the cell (vs bare with the same environment): {mi['added_median_ms']:+.0f} ms median.",
                  ""]
        rows.append(("MCP initialize: bare / mcpcell", f"{bb['median']:.0f} / {mm['median']:.0f} ms", "", "info"))
    elif mi:
        lines += ["## e. Real MCP server", "", f"Skipped: {mi['skipped']}", ""]

    g = load(d, "relay.json")
    if g:
        lines += relay_report(g, rows)

    h = load(d, "pkg-init.json")
    if h and "skipped" not in h:
        lines += pkg_report(h, rows)
    elif h:
        lines += ["## i. Cached npm: package", "", f"Skipped: {h['skipped']}", ""]

    eg = load(d, "egress.json")
    if eg and "skipped" not in eg:
        lines += egress_report(eg, rows)
    elif eg:
        lines += ["## f. Egress", "", f"Skipped: {eg['skipped']}", ""]

    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")

    w0 = max(len(r[0]) for r in rows) if rows else 10
    w1 = max(len(r[1]) for r in rows) if rows else 10
    print()
    print(f"{'figure':<{w0}}  {'value':<{w1}}  {'target':<9}  status")
    print("-" * (w0 + w1 + 26))
    for r in rows:
        print(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]:<9}  {r[3]}")
    print(f"\nwritten: {a.out}")


# --------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("latency")
    p.add_argument("--mcpcell", required=True)
    p.add_argument("--n", type=int, default=5000)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--json", required=True)
    p = sub.add_parser("throughput")
    p.add_argument("--mcpcell", required=True)
    p.add_argument("--tmp", required=True, help="where to write the data file")
    p.add_argument("--modes", default="", help="comma-separated subset of one-cpu,split,unpinned")
    p.add_argument("--mib", type=int, default=128)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--json", required=True)
    p = sub.add_parser("mcp-init")
    p.add_argument("--mcpcell", required=True)
    p.add_argument("--server", default="mcp-server-everything")
    p.add_argument("--profile", default="everything")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--json", required=True)
    p = sub.add_parser("container")
    p.add_argument("--mcpcell", required=True)
    p.add_argument("--server", default="mcp-server-everything")
    p.add_argument("--image", required=True)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--msgs", type=int, default=2000)
    p.add_argument("--mib", type=int, default=64)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--tmp", required=True)
    p.add_argument("--json", required=True)
    p = sub.add_parser("pkg-init")
    p.add_argument("--mcpcell", required=True)
    p.add_argument("--spec", default="npm:@modelcontextprotocol/server-everything@2026.8.31")
    p.add_argument("--work", required=True, help="the XDG cache and config directories for mcpcell")
    p.add_argument("--command-profile", default="everything", help="a command profile running the same server")
    p.add_argument("--command-server", default="mcp-server-everything")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--json", required=True)
    p = sub.add_parser("cgroup")
    p.add_argument("--mcpcell", required=True)
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--stack-runs", type=int, default=5)
    p.add_argument("--gap", type=float, default=0.3)
    p.add_argument("--tmp", required=True)
    p.add_argument("--json", required=True)
    p = sub.add_parser("phases")
    p.add_argument("--mcpcell", required=True)
    p.add_argument("--bwrap", required=True, help="the bwrap command line, space-separated")
    p.add_argument("--user", default="", help="also run as this unprivileged user")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--gap", type=float, default=0.05)
    p.add_argument("--tmp", required=True)
    p.add_argument("--json", required=True)
    p = sub.add_parser("egress")
    p.add_argument("--mcpcell", required=True)
    p.add_argument("--python", default="/usr/bin/python3", help="the client's interpreter (must be visible in a cell)")
    p.add_argument("--host", default="allowed.egress.test", help="a name the host resolves to a local address")
    p.add_argument("--n", type=int, default=500, help="timed connections per set-up run")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--setup-rounds", type=int, default=1)
    p.add_argument("--silent", type=int, default=1, help="1: also time a client that never sends (about 10 s)")
    p.add_argument("--bulk-mib", type=int, default=256)
    p.add_argument("--bulk-rounds", type=int, default=5)
    p.add_argument("--conns", type=int, default=300)
    p.add_argument("--deadline", type=float, default=120, help="the server's and each client's time limit (s)")
    p.add_argument("--tmp", required=True)
    p.add_argument("--json", required=True)
    p = sub.add_parser("egress-server")
    p.add_argument("--addr", required=True)
    p.add_argument("--bulk-mib", type=int, default=256)
    p.add_argument("--deadline", type=float, default=120)
    p = sub.add_parser("egress-client")
    p.add_argument("--mode", required=True, choices=["setup", "silent", "bulk", "hold"])
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--timeout", type=float, default=15, help="per socket operation (s)")
    p.add_argument("--deadline", type=float, default=60)
    p = sub.add_parser("relay")
    p.add_argument("--mcpcell", required=True)
    p.add_argument("--tmp", required=True, help="where to write the profiles, audit file and data files")
    p.add_argument("--n", type=int, default=5000, help="timed round trips per run")
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--mib", type=int, default=64, help="MiB of 1 MiB lines per throughput run")
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--json", required=True)
    p = sub.add_parser("report")
    p.add_argument("--dir", required=True)
    p.add_argument("--out", required=True)
    a = ap.parse_args()
    {"latency": cmd_latency, "throughput": cmd_throughput, "mcp-init": cmd_mcp_init, "pkg-init": cmd_pkg_init, "cgroup": cmd_cgroup,
     "phases": cmd_phases, "egress": cmd_egress, "egress-server": egress_server, "egress-client": egress_client,
     "relay": cmd_relay, "container": cmd_container, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
