#!/usr/bin/env python3
"""An MCP server fixture with tool annotations, for the relay's `[tools] read_only` (written for the
tests; no SDK, stdlib only, so it runs with Debian's /usr/bin/python3 inside a cell). Tools, each
answering at once with its name:

- `peek`: annotations.readOnlyHint = true;
- `poke`: no annotations;
- `erase`: annotations.readOnlyHint = false.

When $MISBEHAVE_LOG names a file, the server appends `call NAME` to it for every tools/call that
reaches it. Newline-delimited JSON-RPC on stdio.
"""

import json
import os
import sys

LOG = os.environ.get("MISBEHAVE_LOG")
OBJ = {"type": "object"}
TOOLS = [
    {"name": "peek", "description": "Reads.", "inputSchema": OBJ, "annotations": {"readOnlyHint": True}},
    {"name": "poke", "description": "Unannotated.", "inputSchema": OBJ},
    {"name": "erase", "description": "Writes.", "inputSchema": OBJ, "annotations": {"readOnlyHint": False}},
]
NAMES = {t["name"] for t in TOOLS}


def send(msg):
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def log(line):
    if LOG:
        with open(LOG, "a") as f:
            f.write(line + "\n")


while True:
    line = sys.stdin.readline()
    if not line:
        break
    try:
        msg = json.loads(line)
    except ValueError:
        continue
    if not isinstance(msg, dict):
        continue
    method, msg_id = msg.get("method"), msg.get("id")
    params = msg.get("params") or {}
    if method == "initialize":
        version = params.get("protocolVersion", "2025-06-18")
        send({"jsonrpc": "2.0", "id": msg_id,
              "result": {"protocolVersion": version, "capabilities": {"tools": {}},
                         "serverInfo": {"name": "annotated-fixture", "version": "1.0"}}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": msg_id, "result": {"tools": TOOLS}})
    elif method == "tools/call":
        name = params.get("name")
        log(f"call {name}")
        if name in NAMES:
            send({"jsonrpc": "2.0", "id": msg_id,
                  "result": {"content": [{"type": "text", "text": name}], "isError": False}})
        else:
            send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32602, "message": f"unknown tool {name}"}})
    elif msg_id is not None and method is not None:
        send({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32601, "message": "method not found"}})
