//! JSON Schema of the profile format, for editors (Taplo / Even Better TOML).

use serde_json::{json, Value};

/// JSON Schema (draft 2020-12) describing profile format v1. Structural only: the loader's
/// checks (paths exist, hosts are names, no read+write overlap) are stricter.
pub fn json_schema() -> Value {
    let path_grant = json!({
        "oneOf": [
            { "$ref": "#/$defs/hostPath" },
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["path"],
                "properties": {
                    "path": { "$ref": "#/$defs/hostPath" },
                    "optional": { "type": "boolean", "default": false, "description": "Skip the path (instead of refusing to start) when it does not exist." }
                }
            }
        ]
    });
    let egress_entry = json!({
        "oneOf": [
            { "$ref": "#/$defs/egressHost" },
            {
                "type": "object",
                "additionalProperties": false,
                "required": ["host"],
                "properties": {
                    "host": { "$ref": "#/$defs/egressHost", "description": "\"host\" or \"*.domain\" (a \":port\" here only when `port` is not set)." },
                    "port": { "type": "integer", "minimum": 1, "maximum": 65535, "default": 443 },
                    "allow_private": { "type": "boolean", "default": false, "description": "Also allow destinations that resolve to loopback, private, link-local (incl. cloud metadata) or multicast addresses: lets the server reach services on the user's machine or LAN. Off by default." }
                }
            }
        ]
    });
    let secret_entry = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["source"],
        "properties": {
            "source": { "type": "string", "pattern": "^(env:[A-Za-z_][A-Za-z0-9_]*|file:(~|~/.*|/.*)|command|keyring|aws-sts|oauth2|github-app)$", "description": "Where the value comes from: \"env:NAME\", \"file:PATH\", \"command\" (run `command` on the host), \"keyring\" (the OS secret store), or minted: \"aws-sts\", \"oauth2\", \"github-app\"." },
            "env": { "$ref": "#/$defs/envName", "description": "Environment variable the server receives the value in (delivery = \"env\"; default: the secret's name), or the file's path in (delivery = \"file\"; default: NAME_FILE, or AWS_SHARED_CREDENTIALS_FILE for aws-sts)." },
            "delivery": { "enum": ["env", "file"], "default": "env", "description": "\"env\": an environment variable. \"file\": a read-only file on a tmpfs in the cell (/run/mcpcell/secrets/NAME), rewritten before the value expires." },
            "ttl_secs": { "type": "integer", "minimum": 5, "maximum": 43200, "description": "Lifetime of one value: minted credentials are asked for (and capped at) this; with delivery = \"file\" the value is obtained again at 75% of it." },
            "command": { "type": "array", "minItems": 1, "items": { "type": "string", "minLength": 1 }, "description": "With source = \"command\": the helper's argv, run on the host without a shell (argv[0] looked up in PATH); its stdout, trimmed, is the value. A non-zero exit, a timeout or empty output stops the start." },
            "timeout_secs": { "type": "integer", "minimum": 1, "maximum": 300, "default": 10, "description": "With source = \"command\": seconds the helper may run before it is killed and the start fails." },
            "service": { "type": "string", "minLength": 1, "description": "keyring: the entry's service." },
            "user": { "type": "string", "minLength": 1, "description": "keyring: the entry's user." },
            "role_arn": { "type": "string", "pattern": "^arn:", "description": "aws-sts: the role to assume." },
            "session_name": { "type": "string", "default": "mcpcell", "description": "aws-sts: RoleSessionName." },
            "policy": { "type": "string", "description": "aws-sts: inline session policy (JSON) narrowing the role." },
            "endpoint": { "$ref": "#/$defs/issuerUrl", "description": "aws-sts: STS endpoint (default https://sts.amazonaws.com)." },
            "region": { "type": "string", "default": "us-east-1", "description": "aws-sts: signing region." },
            "token_url": { "$ref": "#/$defs/issuerUrl", "description": "oauth2: the token endpoint." },
            "grant": { "enum": ["client_credentials", "token_exchange"], "default": "client_credentials", "description": "oauth2: client credentials (RFC 6749) or token exchange (RFC 8693)." },
            "client_id": { "type": "string", "minLength": 1, "description": "oauth2: the client id." },
            "client_secret": { "$ref": "#/$defs/innerSource", "description": "oauth2: where the client secret is read (sent with HTTP Basic)." },
            "resource": { "$ref": "#/$defs/stringOrList", "description": "oauth2: RFC 8707 resource indicator(s), always sent." },
            "audience": { "type": "string", "description": "oauth2: audience parameter." },
            "scope": { "$ref": "#/$defs/stringOrList", "description": "oauth2: scopes." },
            "subject_token": { "$ref": "#/$defs/innerSource", "description": "oauth2 token_exchange: where the subject token is read." },
            "subject_token_type": { "type": "string", "description": "oauth2 token_exchange (default urn:ietf:params:oauth:token-type:access_token)." },
            "requested_token_type": { "type": "string", "description": "oauth2 token_exchange: requested token type." },
            "revocation_url": { "$ref": "#/$defs/issuerUrl", "description": "oauth2: RFC 7009 endpoint; the token is revoked there at exit." },
            "app_id": { "type": ["integer", "string"], "description": "github-app: the App's id (the JWT issuer)." },
            "installation_id": { "type": "integer", "minimum": 1, "description": "github-app: the installation." },
            "private_key": { "$ref": "#/$defs/innerSource", "description": "github-app: where the App's PEM private key is read." },
            "repositories": { "type": "array", "items": { "type": "string", "minLength": 1 }, "description": "github-app: repository names the token is limited to." },
            "permissions": { "type": "object", "additionalProperties": { "enum": ["read", "write", "admin"] }, "description": "github-app: permissions the token is limited to." },
            "api_url": { "$ref": "#/$defs/issuerUrl", "description": "github-app: API base (default https://api.github.com)." }
        },
        "allOf": [
            { "if": { "properties": { "source": { "const": "command" } } }, "then": { "required": ["command"] }, "else": { "not": { "anyOf": [ { "required": ["command"] }, { "required": ["timeout_secs"] } ] } } },
            { "if": { "properties": { "source": { "const": "keyring" } } }, "then": { "required": ["service", "user"] } },
            { "if": { "properties": { "source": { "const": "aws-sts" } } }, "then": { "required": ["role_arn"] } },
            { "if": { "properties": { "source": { "const": "oauth2" } } }, "then": { "required": ["token_url", "client_id", "resource"] } },
            { "if": { "properties": { "source": { "const": "github-app" } } }, "then": { "required": ["app_id", "installation_id", "private_key"] } }
        ]
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "mcpcell profile (format v1)",
        "description": "What an MCP server may see and reach inside an mcpcell cell. Everything not declared is denied.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "description": { "type": "string", "description": "One line shown by `mcpcell profiles` and `explain`." },
            "extends": { "type": "string", "description": "Base profile: a built-in name, an installed profile name, or a path to a .toml file (relative to this file's directory)." },
            "server": {
                "type": "object",
                "description": "What to run inside the cell: `command` or `package` (one of them, here or in an extended profile).",
                "additionalProperties": false,
                "not": { "required": ["command", "package"] },
                "properties": {
                    "command": { "type": "string", "minLength": 1, "description": "Bare program name (looked up in PATH) or absolute path." },
                    "package": {
                        "type": "string",
                        "pattern": "^(npm:(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*(@([0-9][0-9A-Za-z.+!-]*|file:/.+\\.tgz))?|pypi:[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(==[0-9][0-9A-Za-z.+!-]*)?)$",
                        "description": "A package mcpcell installs outside the cell and runs: \"npm:@scope/name@1.2.3\", \"npm:name\" (latest, pinned at first install), \"pypi:name==1.2.3\" or \"pypi:name\". Not together with `command`."
                    },
                    "install_scripts": { "type": "boolean", "default": false, "description": "npm only: run the package's install scripts (inside a cell with no network). Off by default." },
                    "i_mean_it": { "type": "boolean", "default": false, "description": "The package name resembles a catalogue package, and that is intended (skips the typosquat guard)." },
                    "args": { "type": "array", "items": { "type": "string" }, "description": "Arguments, passed verbatim (no `~` expansion). Replaces the extended profile's args." },
                    "env": {
                        "type": "object",
                        "description": "Literal, non-secret environment variables. Secrets go in [secrets].",
                        "propertyNames": { "$ref": "#/$defs/envName" },
                        "additionalProperties": { "type": "string" }
                    },
                    "cwd": { "$ref": "#/$defs/hostPath", "description": "Working directory (absolute or ~/...). Default: the cell's $HOME." }
                }
            },
            "filesystem": {
                "type": "object",
                "description": "Host paths visible in the cell, at the same path. Everything else is hidden.",
                "additionalProperties": false,
                "properties": {
                    "read": { "type": "array", "items": { "$ref": "#/$defs/pathGrant" }, "description": "Read-only paths." },
                    "write": { "type": "array", "items": { "$ref": "#/$defs/pathGrant" }, "description": "Read-write paths." }
                }
            },
            "network": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "egress": {
                        "type": "array",
                        "description": "Hosts the server may connect to: \"host\", \"host:port\" (default port 443) or \"*.domain\" (subdomains only), or a table { host, port, allow_private }. No IP addresses.",
                        "items": { "$ref": "#/$defs/egressEntry" }
                    }
                }
            },
            "secrets": {
                "type": "object",
                "description": "Secrets by name, each [secrets.NAME]. Values never go in a profile.",
                "additionalProperties": secret_entry
            },
            "limits": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "memory": { "$ref": "#/$defs/size", "default": "2GiB", "description": "Memory cap (16MiB to 1TiB)." },
                    "pids": { "type": "integer", "minimum": 1, "maximum": 4194304, "default": 512, "description": "Maximum processes/threads." },
                    "cpu_seconds": { "oneOf": [ { "type": "integer", "minimum": 1, "maximum": 31536000 }, { "const": "unlimited" } ], "description": "CPU time cap in seconds. Default: unlimited." },
                    "file_size": { "$ref": "#/$defs/size", "default": "1GiB", "description": "Largest file the server may write (1B to 1TiB)." },
                    "open_files": { "type": "integer", "minimum": 16, "maximum": 1048576, "default": 1024, "description": "Maximum open file descriptors." },
                    "tmpfs_size": { "$ref": "#/$defs/size", "default": "256MiB", "description": "Size of each private tmpfs: /tmp, $HOME, /dev/shm (1MiB to 1TiB)." }
                }
            },
            "sandbox": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "backend": { "enum": ["jail", "container"], "default": "jail", "description": "How the cell is built." },
                    "landlock_min_abi": { "type": "integer", "minimum": 0, "maximum": 7, "default": 1, "description": "Minimum Landlock ABI the host must offer; 0 makes Landlock optional." },
                    "shutdown_grace_ms": { "type": "integer", "minimum": 0, "maximum": 600000, "default": 2000, "description": "Milliseconds between shutdown escalation steps (EOF, SIGTERM, SIGKILL)." },
                    "image": { "type": "string", "pattern": "^[A-Za-z0-9._/:@-]+$", "description": "Container backend only: run from this local image's own runtime (mcpcell image build node|python|static) instead of the host's system trees. Never pulled." }
                }
            },
            "tools": {
                "type": "object",
                "description": "Tool policy, enforced by mcpcell's MCP-aware relay. Configuring it (or [audit]) makes mcpcell relay stdio through the relay instead of handing the server the client's pipes.",
                "additionalProperties": false,
                "properties": {
                    "allow": { "type": "array", "items": { "$ref": "#/$defs/toolGlob" }, "description": "Tools the client may see and call (names or globs). Empty or absent: every tool. Replaces the extended profile's list." },
                    "deny": { "type": "array", "items": { "$ref": "#/$defs/toolGlob" }, "description": "Tools hidden from the client and refused (names or globs). Deny wins over allow. Replaces the extended profile's list." },
                    "confirm": { "type": "array", "items": { "$ref": "#/$defs/toolGlob" }, "description": "Tools whose calls run only after the user approves each one through an MCP elicitation/create request to the client (names or globs); refused with an explanation when the client did not declare elicitation support. Never auto-approved. Replaces the extended profile's list." },
                    "read_only": { "type": "boolean", "default": false, "description": "List and allow only tools whose annotations.readOnlyHint is true." },
                    "on_poisoned": { "enum": ["warn", "block"], "default": "warn", "description": "What to do with a tool whose description carries hidden-instruction patterns: log it, or hide and refuse it." },
                    "pins": { "enum": ["block", "warn", "tofu"], "default": "block", "description": "What to do with a tool that is new or changed since the profile's lockfile (mcpcell lock PROFILE) was written: hide and refuse it (block), log and pass it (warn), or, with no lockfile yet, write the first tools/list as the lockfile and then act like block (tofu)." },
                    "max_message_bytes": { "$ref": "#/$defs/size", "default": "16MiB", "description": "Largest JSON-RPC message either side may send (1KiB to 1GiB)." },
                    "call_timeout_secs": { "type": "integer", "minimum": 1, "maximum": 86400, "description": "Seconds a tools/call may take: past it the client gets a JSON-RPC error and the server a notifications/cancelled. Absent: no timeout." },
                    "calls_per_minute": { "type": "integer", "minimum": 1, "maximum": 100000, "description": "Most tools/call requests in any one-minute sliding window, all tools together; a call over the limit is refused with a JSON-RPC error. Absent: no limit." },
                    "tool_calls_per_minute": { "type": "integer", "minimum": 1, "maximum": 100000, "description": "Most tools/call requests in any one-minute sliding window for each tool separately; a call over the limit is refused with a JSON-RPC error. Absent: no limit." }
                }
            },
            "audit": {
                "type": "object",
                "description": "Audit trail written by mcpcell's MCP-aware relay.",
                "additionalProperties": false,
                "properties": {
                    "file": { "$ref": "#/$defs/hostPath", "description": "JSON-lines audit file (absolute or ~/...). Absent: no audit log." },
                    "max_bytes": { "$ref": "#/$defs/size", "default": "10MiB", "description": "Size the audit file may reach (4KiB to 1TiB); a record that would take it past this first rotates it to FILE.1 (one backup kept)." }
                }
            }
        },
        "$defs": {
            "hostPath": { "type": "string", "pattern": "^(~|~/.*|/.+)$", "description": "Absolute path, or ~ / ~/... (the invoking user's home)." },
            "pathGrant": path_grant,
            "issuerUrl": { "type": "string", "pattern": "^(https://.+|http://(127\\.[0-9.]+|localhost|\\[::1\\])([:/].*)?)$", "description": "https, or plain http to a loopback host only." },
            "innerSource": { "type": "string", "pattern": "^(env:[A-Za-z_][A-Za-z0-9_]*|file:(~|~/.*|/.*))$", "description": "\"env:NAME\" or \"file:PATH\"." },
            "stringOrList": { "oneOf": [ { "type": "string", "minLength": 1 }, { "type": "array", "minItems": 1, "items": { "type": "string", "minLength": 1 } } ] },
            "egressHost": { "type": "string", "pattern": "^(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\\.?(:[0-9]{1,5})?$" },
            "egressEntry": egress_entry,
            "toolGlob": { "type": "string", "minLength": 1, "pattern": "^[^\\u0000-\\u001F\\u007F-\\u009F]+$", "description": "A tool name or glob: `*` matches any run of characters, `?` one character; nothing else is special." },
            "envName": { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "size": {
                "oneOf": [
                    { "type": "string", "pattern": "^[0-9]+ ?(B|k|K|KiB|M|MiB|G|GiB|T|TiB)?$" },
                    { "type": "integer", "minimum": 1 }
                ],
                "description": "Bytes: an integer, or a string with a binary unit (k/K/KiB = 1024, M/MiB, G/GiB, T/TiB)."
            }
        }
    })
}
