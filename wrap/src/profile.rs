//! The profile `wrap` generates for one server: catalogue lookup, grants, and the TOML text.

use crate::launch::{Ecosystem, PackageRef};
use std::path::PathBuf;

/// Servers whose use of their path arguments is known. Everything else gets read-only grants.
/// Keyed by `npm:NAME` / `pypi:NAME` (no version).
pub(crate) struct KnownServer {
    pub package: &'static str,
    /// Its path arguments (and path-valued env) need write access to work at all.
    pub writes: bool,
    pub note: &'static str,
}

pub(crate) const KNOWN_SERVERS: &[KnownServer] = &[
    KnownServer {
        package: "npm:@modelcontextprotocol/server-filesystem",
        writes: false,
        note: "its write tools (write_file, edit_file, create_directory, move_file) fail on read-only paths; \
               move a path to [filesystem] write to allow edits",
    },
    KnownServer {
        package: "npm:@modelcontextprotocol/server-memory",
        writes: true,
        note: "it writes its knowledge graph to MEMORY_FILE_PATH",
    },
    KnownServer { package: "pypi:mcp-server-sqlite", writes: true, note: "it writes to its database" },
    KnownServer {
        package: "pypi:mcp-server-git",
        writes: true,
        note: "its add, commit, branch and checkout tools write to the repository",
    },
];

pub(crate) fn known_server(package: &PackageRef) -> Option<&'static KnownServer> {
    let key = package.unversioned();
    KNOWN_SERVERS.iter().find(|k| k.package == key)
}

/// The built-in profile for `package`, if the catalogue has one: matched on its
/// `[server] package` (any version), or, for entries that name a `command` instead, on the
/// `npm install -g PACKAGE` line their comments document.
pub(crate) fn catalogue_entry(package: &PackageRef) -> Option<String> {
    find_in_catalogue(mcpcell_profiles::builtins().iter().map(|b| (b.name, b.toml)), package)
}

pub(crate) fn find_in_catalogue<'a>(
    entries: impl Iterator<Item = (&'a str, &'a str)>,
    package: &PackageRef,
) -> Option<String> {
    let want = package.unversioned();
    let mut by_comment = None;
    for (name, text) in entries {
        let table: toml::Table = match toml::from_str(text) {
            Ok(t) => t,
            Err(_) => continue,
        };
        let declared = table.get("server").and_then(|s| s.get("package")).and_then(|p| p.as_str());
        if let Some(spec) = declared {
            if PackageRef::parse_spec(spec).is_some_and(|p| p.unversioned() == want) {
                return Some(name.to_string());
            }
            continue;
        }
        if package.ecosystem == Ecosystem::Npm && by_comment.is_none() {
            let documented = text.lines().filter_map(|l| l.trim_start().strip_prefix('#')).any(|l| {
                l.split("npm install -g ").nth(1).and_then(|rest| rest.split_whitespace().next()).is_some_and(|spec| {
                    let bare = match spec.strip_prefix('@') {
                        Some(r) => format!("@{}", r.split('@').next().unwrap_or(r)),
                        None => spec.split('@').next().unwrap_or(spec).to_string(),
                    };
                    bare == package.name
                })
            });
            if documented {
                by_comment = Some(name.to_string());
            }
        }
    }
    by_comment
}

/// A `[filesystem]` grant in a generated profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantPlan {
    pub path: PathBuf,
    pub write: bool,
    /// Why this grant, and why read-only or read-write.
    pub why: String,
}

/// Everything the generated profile says.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProfileSpec {
    pub header: Vec<String>,
    pub description: String,
    pub extends: Option<String>,
    pub package: Option<String>,
    pub command: Option<String>,
    pub args: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub grants: Vec<GrantPlan>,
    /// Secret name, its source string, a comment.
    pub secrets: Vec<(String, String, String)>,
    /// Say no network in a comment (least privilege, not from a catalogue entry).
    pub egress_hint: bool,
}

pub(crate) fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn array(items: &[String]) -> String {
    let parts: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", parts.join(", "))
}

impl ProfileSpec {
    pub fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            out.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
        }
        out.push_str(&format!("description = {}\n", quote(&self.description)));
        if let Some(base) = &self.extends {
            out.push_str(&format!("extends = {}\n", quote(base)));
        }
        let server_keys = self.package.is_some()
            || self.command.is_some()
            || self.args.as_ref().is_some_and(|a| !a.is_empty())
            || !self.env.is_empty();
        if server_keys {
            out.push_str("\n[server]\n");
        }
        if let Some(p) = &self.package {
            out.push_str(&format!("package = {}\n", quote(p)));
        }
        if let Some(c) = &self.command {
            out.push_str(&format!("command = {}\n", quote(c)));
        }
        if let Some(args) = self.args.as_ref().filter(|a| !a.is_empty()) {
            out.push_str(&format!("args = {}\n", array(args)));
        }
        if !self.env.is_empty() {
            let parts: Vec<String> = self.env.iter().map(|(k, v)| format!("{k} = {}", quote(v))).collect();
            out.push_str(&format!("env = {{ {} }}\n", parts.join(", ")));
        }
        let reads: Vec<String> =
            self.grants.iter().filter(|g| !g.write).map(|g| g.path.display().to_string()).collect();
        let writes: Vec<String> =
            self.grants.iter().filter(|g| g.write).map(|g| g.path.display().to_string()).collect();
        if !reads.is_empty() || !writes.is_empty() {
            out.push_str("\n[filesystem]\n");
            for g in &self.grants {
                out.push_str(&format!(
                    "# {} {}: {}\n",
                    g.path.display(),
                    if g.write { "read-write" } else { "read-only" },
                    g.why
                ));
            }
            if !reads.is_empty() {
                out.push_str(&format!("read = {}\n", array(&reads)));
            }
            if !writes.is_empty() {
                out.push_str(&format!("write = {}\n", array(&writes)));
            }
        }
        if self.egress_hint {
            out.push_str(
                "\n# No network. If the server needs to reach hosts, name them:\n\
                 # [network]\n\
                 # egress = [\"api.example.com\"]\n",
            );
        }
        for (name, source, comment) in &self.secrets {
            out.push_str(&format!("\n[secrets.{name}]\n# {comment}\nsource = {}\n", quote(source)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npm(name: &str, version: Option<&str>) -> PackageRef {
        PackageRef { ecosystem: Ecosystem::Npm, name: name.into(), version: version.map(Into::into) }
    }

    #[test]
    fn catalogue_by_documented_install_line() {
        assert_eq!(catalogue_entry(&npm("@modelcontextprotocol/server-memory", None)).as_deref(), Some("memory"));
        assert_eq!(
            catalogue_entry(&npm("@modelcontextprotocol/server-filesystem", Some("1.0.0"))).as_deref(),
            Some("filesystem")
        );
        // A catalogue entry with `[server] package` (the catalogue grew with package sources).
        assert_eq!(catalogue_entry(&npm("@modelcontextprotocol/server-github", None)).as_deref(), Some("github"));
        assert_eq!(catalogue_entry(&npm("@modelcontextprotocol/server-aws-kb-retrieval", None)), None);
        assert_eq!(catalogue_entry(&npm("server-memory", None)), None);
    }

    #[test]
    fn catalogue_by_server_package() {
        let entries = [
            (
                "github",
                "description = \"x\"\n[server]\npackage = \"npm:@modelcontextprotocol/server-github@2025.4.8\"\n",
            ),
            ("time", "[server]\npackage = \"pypi:mcp-server-time==2025.1.1\"\n"),
            // A `package` line wins over a comment naming another package.
            ("decoy", "# npm install -g other\n[server]\npackage = \"npm:real\"\n"),
        ];
        let find = |p: &PackageRef| find_in_catalogue(entries.iter().copied(), p);
        assert_eq!(find(&npm("@modelcontextprotocol/server-github", Some("1.0.0"))).as_deref(), Some("github"));
        let time = PackageRef { ecosystem: Ecosystem::Pypi, name: "mcp-server-time".into(), version: None };
        assert_eq!(find(&time).as_deref(), Some("time"));
        assert_eq!(find(&npm("other", None)), None);
        assert_eq!(find(&npm("real", None)).as_deref(), Some("decoy"));
    }

    #[test]
    fn rendered_profile_parses_as_toml_with_awkward_strings() {
        let spec = ProfileSpec {
            description: "a \"quoted\" 'name' \\ with\ttab".into(),
            command: Some("node".into()),
            args: Some(vec!["it's".into(), "\"q\"".into(), "back\\slash".into()]),
            env: vec![("A".into(), "x\ny".into())],
            ..Default::default()
        };
        let table: toml::Table = toml::from_str(&spec.render()).unwrap();
        assert_eq!(table["description"].as_str(), Some("a \"quoted\" 'name' \\ with\ttab"));
        let args: Vec<&str> = table["server"]["args"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(args, ["it's", "\"q\"", "back\\slash"]);
        assert_eq!(table["server"]["env"]["A"].as_str(), Some("x\ny"));
    }
}
