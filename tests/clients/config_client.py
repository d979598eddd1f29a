#!/usr/bin/env python3
"""Start one server of an MCP client config the way a client does (its "command", "args" and
"env" over the client's own environment) with the real Python MCP SDK, list its tools, perform
a list of tool calls, and print one JSON report on stdout.

usage: config_client.py CONFIG SERVER CALLS_JSON

CONFIG is a JSON file with the servers under "mcpServers" (Claude Desktop, Cursor, Claude Code)
or "servers" (VS Code, without comments). CALLS_JSON and the report are as in
filesystem_client.py. The test (tests/e2e/wrap.rs) makes the assertions; this script only talks MCP.
"""

import json
import os
import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from filesystem_client import result_is_error, result_text


async def main(config: str, server: str, calls: list) -> dict:
    with open(config) as f:
        cfg = json.load(f)
    entry = (cfg.get("mcpServers") or cfg.get("servers"))[server]
    env = dict(os.environ)
    env.update(entry.get("env", {}))
    params = StdioServerParameters(command=entry["command"], args=entry.get("args", []), env=env)
    report = {"command": [entry["command"], *entry.get("args", [])], "tools": [], "calls": {}}
    with anyio.fail_after(120):
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                report["tools"] = sorted(t.name for t in tools.tools)
                for call in calls:
                    try:
                        res = await session.call_tool(call["tool"], call["arguments"])
                        entry_out = {"is_error": result_is_error(res), "text": result_text(res)}
                    except Exception as e:  # a JSON-RPC error response is a refusal too
                        entry_out = {"is_error": True, "text": f"exception: {type(e).__name__}: {e}"}
                    report["calls"][call["name"]] = entry_out
    return report


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out = anyio.run(main, sys.argv[1], sys.argv[2], json.loads(sys.argv[3]))
    print(json.dumps(out, indent=1))
