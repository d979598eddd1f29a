#!/usr/bin/env python3
"""Drive @modelcontextprotocol/server-filesystem through `mcpcell run PROFILE` with the real
Python MCP SDK, perform a list of tool calls, and print one JSON report on stdout.

usage: filesystem_client.py MCPCELL PROFILE CALLS_JSON

CALLS_JSON is a JSON list of {"name": label, "tool": tool_name, "arguments": {...}}. The report is
{"sdk": version, "tools": [names], "descriptions": {name: description}, "calls": {label: {"is_error": bool, "text": str}}}; a call that
raises (protocol-level error) is reported with is_error true and the exception text.

The test (tests/e2e/real_server.rs) makes the assertions; this script only talks MCP.
"""

import json
import os
import sys
from importlib.metadata import version

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def result_is_error(res) -> bool:
    # mcp 2.x spells it is_error, 1.x isError.
    for attr in ("is_error", "isError"):
        if hasattr(res, attr):
            return bool(getattr(res, attr))
    raise RuntimeError(f"cannot tell whether {res!r} is an error")


def result_text(res) -> str:
    parts = []
    for c in getattr(res, "content", None) or []:
        t = getattr(c, "text", None)
        if t is not None:
            parts.append(t)
    return "\n".join(parts)


async def main(mcpcell: str, profile: str, calls: list) -> dict:
    params = StdioServerParameters(command=mcpcell, args=["run", profile], env=dict(os.environ))
    report = {"sdk": version("mcp"), "tools": [], "descriptions": {}, "calls": {}}
    with anyio.fail_after(120):
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = await session.list_tools()
                report["tools"] = sorted(t.name for t in tools.tools)
                report["descriptions"] = {t.name: t.description for t in tools.tools}
                for call in calls:
                    try:
                        res = await session.call_tool(call["tool"], call["arguments"])
                        entry = {"is_error": result_is_error(res), "text": result_text(res)}
                    except Exception as e:  # a JSON-RPC error response is a refusal too
                        entry = {"is_error": True, "text": f"exception: {type(e).__name__}: {e}"}
                    report["calls"][call["name"]] = entry
    return report


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    calls = json.loads(sys.argv[3])
    out = anyio.run(main, sys.argv[1], sys.argv[2], calls)
    print(json.dumps(out, indent=1))
