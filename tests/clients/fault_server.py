#!/usr/bin/env python3
"""An MCP server fixture for the fault tests (tests/e2e/faults.rs), written for the tests because
no real server can be made to exit with a chosen status or to flood its output on demand. Stdlib
only, so it runs with Debian's /usr/bin/python3 inside a cell. Newline-delimited JSON-RPC on
stdio. Tools:

- `echo`: answers at once with its `message` argument;
- `exit`: exits at once with status `code` (default 7), without answering;
- `flood`: sends `chunks` (default 1024) notifications/message of `chunk_bytes` (default 65536)
  bytes of data each, then answers with the number of bytes it wrote. When $FAULT_LOG names a
  file, it writes the running byte total there after each chunk (truncating it each time), so a
  test can see whether the server is blocked on a full pipe.
"""

import json
import os
import sys

LOG = os.environ.get("FAULT_LOG")
OBJ = {"type": "object"}
TOOLS = [
    {"name": "echo", "description": "Echoes.", "inputSchema": OBJ},
    {"name": "exit", "description": "Exits without answering.", "inputSchema": OBJ},
    {"name": "flood", "description": "Writes a lot.", "inputSchema": OBJ},
]
OUT = sys.stdout.buffer


def send(msg):
    OUT.write(json.dumps(msg).encode() + b"\n")
    OUT.flush()


def reply(msg_id, result):
    send({"jsonrpc": "2.0", "id": msg_id, "result": result})


def progress(total):
    if LOG:
        with open(LOG + ".tmp", "w") as f:
            f.write(str(total))
        os.replace(LOG + ".tmp", LOG)


def flood(msg_id, chunks, chunk_bytes):
    total = 0
    filler = "F" * chunk_bytes
    for i in range(chunks):
        line = json.dumps({"jsonrpc": "2.0", "method": "notifications/message",
                           "params": {"level": "info", "logger": "flood", "data": filler}}).encode() + b"\n"
        OUT.write(line)
        OUT.flush()
        total += len(line)
        progress(total)
    reply(msg_id, {"content": [{"type": "text", "text": str(total)}], "isError": False})


for raw in sys.stdin.buffer:
    try:
        msg = json.loads(raw)
    except ValueError:
        continue
    if not isinstance(msg, dict):
        continue
    method, msg_id = msg.get("method"), msg.get("id")
    params = msg.get("params") or {}
    if method == "initialize":
        version = params.get("protocolVersion", "2025-06-18")
        reply(msg_id, {"protocolVersion": version, "capabilities": {"tools": {}},
                       "serverInfo": {"name": "fault-fixture", "version": "1.0"}})
    elif method == "tools/list":
        reply(msg_id, {"tools": TOOLS})
    elif method == "tools/call":
        name = params.get("name")
        args = params.get("arguments") or {}
        if name == "echo":
            reply(msg_id, {"content": [{"type": "text", "text": str(args.get("message", ""))}], "isError": False})
        elif name == "exit":
            os._exit(int(args.get("code", 7)))
        elif name == "flood":
            flood(msg_id, int(args.get("chunks", 1024)), int(args.get("chunk_bytes", 65536)))
        else:
            send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32602, "message": f"unknown tool {name}"}})
    elif msg_id is not None:
        send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32601, "message": "method not found"}})
