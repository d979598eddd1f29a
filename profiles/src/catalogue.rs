//! The built-in catalogue: hardened profiles shipped inside the binary.

use crate::package::PackageRef;

/// A built-in profile: its TOML source is embedded at build time from `profiles/catalogue/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub name: &'static str,
    /// One line, for `mcpcell profiles`; the same text as the TOML's `description`.
    pub description: &'static str,
    /// The package the profile runs (`npm:NAME` or `pypi:NAME`, no version): what
    /// `mcpcell run npm:NAME` maps to this profile, and what the typosquat guard compares with.
    pub package: &'static str,
    pub toml: &'static str,
}

macro_rules! builtin {
    ($name:literal, $package:literal, $description:literal) => {
        Builtin {
            name: $name,
            package: $package,
            description: $description,
            toml: include_str!(concat!("../catalogue/", $name, ".toml")),
        }
    };
}

static BUILTINS: &[Builtin] = &[
    builtin!("brave-search", "npm:@modelcontextprotocol/server-brave-search", "Brave web and local search (@modelcontextprotocol/server-brave-search 0.6.2): egress to api.search.brave.com only, BRAVE_API_KEY from the environment."),
    builtin!("everything", "npm:@modelcontextprotocol/server-everything", "The MCP reference test server (@modelcontextprotocol/server-everything): every protocol feature, no files, no network."),
    builtin!("fetch", "pypi:mcp-server-fetch", "Web fetching as markdown (PyPI mcp-server-fetch 2026.10.24) with no egress: extend it with the hosts it may fetch from."),
    builtin!("filesystem", "npm:@modelcontextprotocol/server-filesystem", "The MCP filesystem server (@modelcontextprotocol/server-filesystem) with nothing granted: extend it with [filesystem] paths and [server] args naming the same directories."),
    builtin!("git", "pypi:mcp-server-git", "Git repository tools (PyPI mcp-server-git 2026.10.19) with no repository granted: extend it with the repository; commits, staging and branch changes need confirmation, git_reset is denied."),
    builtin!("github", "npm:@modelcontextprotocol/server-github", "GitHub API (@modelcontextprotocol/server-github 2025.4.8): egress to api.github.com only, token from the environment, writes need confirmation, merges denied."),
    builtin!("gitlab", "npm:@modelcontextprotocol/server-gitlab", "GitLab API (@modelcontextprotocol/server-gitlab 2025.4.25): egress to gitlab.com only, token from the environment, writes need confirmation."),
    builtin!("memory", "npm:@modelcontextprotocol/server-memory", "The MCP knowledge-graph memory server (@modelcontextprotocol/server-memory), storing its graph in the cell's private /tmp (discarded on exit); no files, no network."),
    builtin!("playwright", "npm:@playwright/mcp", "Browser automation (@playwright/mcp 0.0.83) with no egress and no bundled browser: extend it with the hosts to browse and a browser path; arbitrary server-side code denied."),
    builtin!("postgres", "npm:@modelcontextprotocol/server-postgres", "Read-only PostgreSQL queries (@modelcontextprotocol/server-postgres 0.6.2) with no database reachable: extend it with the database host and the connection URL."),
    builtin!("puppeteer", "npm:@modelcontextprotocol/server-puppeteer", "Browser automation (@modelcontextprotocol/server-puppeteer 2025.5.12) with no egress and no bundled browser download: extend it with the hosts to browse and a browser path."),
    builtin!("sequential-thinking", "npm:@modelcontextprotocol/server-sequential-thinking", "Step-by-step reasoning scratchpad (@modelcontextprotocol/server-sequential-thinking 2026.8.31): no files, no network."),
    builtin!("slack", "npm:@modelcontextprotocol/server-slack", "Slack (@modelcontextprotocol/server-slack 2025.4.25): egress to slack.com only, bot token and team id from the environment, posting needs confirmation."),
    builtin!("time", "pypi:mcp-server-time", "Current time and time-zone conversion (PyPI mcp-server-time 2026.10.19): no files, no network."),
];

/// Every built-in profile, sorted by name.
pub fn builtins() -> &'static [Builtin] {
    BUILTINS
}

/// The built-in profile called `name`.
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}

/// The built-in profile that runs `pkg` (same registry and name; any version).
pub fn builtin_for_package(pkg: &PackageRef) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.package.parse::<PackageRef>().is_ok_and(|p| p.key() == pkg.key()))
}

/// Every catalogue entry's name and package (without a version), for the typosquat guard.
pub fn catalogue_packages() -> Vec<(&'static str, PackageRef)> {
    BUILTINS.iter().filter_map(|b| Some((b.name, b.package.parse().ok()?))).collect()
}

pub(crate) fn builtin_names() -> Vec<String> {
    BUILTINS.iter().map(|b| b.name.to_string()).collect()
}
