//! The built-in catalogue: hardened profiles shipped inside the binary.

/// A built-in profile: its TOML source is embedded at build time from `profiles/catalogue/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub name: &'static str,
    /// One line, for `mcpcell profiles`; the same text as the TOML's `description`.
    pub description: &'static str,
    pub toml: &'static str,
}

static BUILTINS: &[Builtin] = &[
    Builtin {
        name: "everything",
        description: "The MCP reference test server (@modelcontextprotocol/server-everything): every protocol feature, no files, no network.",
        toml: include_str!("../catalogue/everything.toml"),
    },
    Builtin {
        name: "filesystem",
        description: "The MCP filesystem server (@modelcontextprotocol/server-filesystem) with nothing granted: extend it with [filesystem] paths and [server] args naming the same directories.",
        toml: include_str!("../catalogue/filesystem.toml"),
    },
    Builtin {
        name: "memory",
        description: "The MCP knowledge-graph memory server (@modelcontextprotocol/server-memory), storing its graph in the cell's private /tmp (discarded on exit); no files, no network.",
        toml: include_str!("../catalogue/memory.toml"),
    },
];

/// Every built-in profile, sorted by name.
pub fn builtins() -> &'static [Builtin] {
    BUILTINS
}

/// The built-in profile called `name`.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

pub(crate) fn builtin_names() -> Vec<String> {
    BUILTINS.iter().map(|b| b.name.to_string()).collect()
}
