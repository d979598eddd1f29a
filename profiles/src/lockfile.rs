//! Lockfiles: the tool pins `mcpcell lock PROFILE` records and the relay checks tools against,
//! and the package pin (resolved version, registry integrity, installed-tree hash) of a
//! `[server] package` profile, written at first install and verified at every start.
//!
//! Plain data plus reading and stable writing; hashing the tools and comparing them is the
//! relay's job.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Location, ProfileError};
use crate::model::{Origin, Profile};

/// The lockfile format version this crate reads and writes.
pub const LOCKFILE_VERSION: u32 = 1;

/// A profile's tool pins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockfile {
    /// Format version; [`LOCKFILE_VERSION`].
    pub version: u32,
    /// The server's `serverInfo` when the lockfile was written (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<LockedServer>,
    /// The pinned tools; `None` when no tools are pinned (a lockfile holding only a package pin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<LockedTool>>,
    /// The pinned package of a `[server] package` profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<LockedPackage>,
}

/// What a `[server] package` resolved to when it was first installed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedPackage {
    /// Registry and name, without a version: `npm:@scope/name`, `pypi:name`.
    pub source: String,
    /// The profile's `package` when this was resolved (`npm:x` or `npm:x@1.2.3`): a profile
    /// asking for another version re-resolves.
    pub requested: String,
    /// The resolved exact version.
    pub version: String,
    /// The registry's integrity of the package itself: npm's `sha512-<base64>` from the
    /// package-lock, or `sha256:<hex>` of the PyPI file.
    pub integrity: String,
    /// The command the server runs: the npm `bin` or console script name, and its target
    /// (a path in the package for npm, `module:function` for PyPI).
    pub entry: LockedEntry,
    /// PyPI: the Python version (`3.11`) the distributions were installed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// Whether the install scripts ran (inside a cell) when it was installed.
    #[serde(default)]
    pub install_scripts: bool,
    /// SHA-256 over the installed tree (every path, type, executable bit, file content and
    /// link target, sorted); checked before every start.
    pub tree_sha256: String,
    /// npm: the package-lock's `packages` map (each dependency's version, `resolved` URL and
    /// `integrity`), from which an identical tree is reinstalled with `npm ci`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub npm_packages: Option<serde_json::Map<String, serde_json::Value>>,
    /// PyPI: every installed distribution with the SHA-256 of its file, reinstalled with
    /// `pip --require-hashes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pypi_dists: Option<Vec<LockedDist>>,
}

/// The entry point of a package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedEntry {
    pub name: String,
    pub target: String,
}

/// One PyPI distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedDist {
    pub name: String,
    pub version: String,
    /// Lower-case hex SHA-256 of the wheel (or sdist) file.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// The server's self-reported name and version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedServer {
    pub name: String,
    pub version: String,
}

/// One pinned tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedTool {
    pub name: String,
    /// Lower-case hex SHA-256 of the canonical JSON of the pinned fields.
    pub sha256: String,
    /// The pinned fields as the server sent them (name, title, description, inputSchema,
    /// outputSchema, annotations), for readable diffs.
    pub definition: serde_json::Value,
}

impl Lockfile {
    /// Reads the lockfile at `path`: `Ok(None)` if it does not exist. Malformed JSON, wrong
    /// field types and unsupported versions are [`ProfileError::Invalid`] at `path:line:column`;
    /// other read failures are [`ProfileError::LockfileIo`].
    pub fn read(path: &Path) -> Result<Option<Lockfile>, ProfileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ProfileError::LockfileIo { path: path.to_path_buf(), source }),
        };
        Lockfile::parse(&text, &path.display().to_string()).map(Some)
    }

    /// Parses lockfile text; `file` names it in errors.
    pub(crate) fn parse(text: &str, file: &str) -> Result<Lockfile, ProfileError> {
        let fix = "fix it, or delete it and re-create it with `mcpcell lock PROFILE`";
        let json_err = |e: serde_json::Error| {
            let location = Location { file: file.to_string(), line: e.line().max(1), column: e.column().max(1) };
            ProfileError::invalid(location, format!("invalid lockfile: {e}; {fix}"))
        };
        // Syntax first, then the version (so a future format gets a version message, not a
        // field error), then the structure.
        let value: serde_json::Value = serde_json::from_str(text).map_err(json_err)?;
        let version = value.get("version");
        if version.and_then(serde_json::Value::as_u64) != Some(u64::from(LOCKFILE_VERSION)) {
            let location = match text.find("\"version\"") {
                Some(offset) if version.is_some() => Location::at(file, text, offset),
                _ => Location::start(file),
            };
            let found = match version {
                Some(v) => format!("unsupported lockfile version {v}"),
                None => "lockfile has no \"version\"".to_string(),
            };
            return Err(ProfileError::invalid(
                location,
                format!(
                    "{found}; this mcpcell supports version {LOCKFILE_VERSION}; re-create it with `mcpcell lock PROFILE` (or use the mcpcell that wrote it)"
                ),
            ));
        }
        let lock: Lockfile = serde_json::from_str(text).map_err(json_err)?;
        if lock.tools.is_none() && lock.package.is_none() {
            return Err(ProfileError::invalid(
                Location::start(file),
                format!("lockfile has neither \"tools\" nor \"package\"; {fix}"),
            ));
        }
        Ok(lock)
    }

    /// Stable pretty JSON for review in git: tools sorted by name, 2-space indent, trailing
    /// newline. Object keys inside `definition` keep serde_json's map order (sorted, unless
    /// its `preserve_order` feature is on).
    pub fn to_pretty_json(&self) -> String {
        let mut sorted = self.clone();
        if let Some(tools) = &mut sorted.tools {
            tools.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.sha256.cmp(&b.sha256)));
        }
        let mut text = serde_json::to_string_pretty(&sorted).expect("a lockfile always serialises");
        text.push('\n');
        text
    }
}

/// Where `profile`'s lockfile lives: next to its file (`dir/NAME.toml` → `dir/NAME.lock.json`);
/// for a built-in or ad-hoc profile, `locks_dir/NAME.lock.json`.
pub fn lockfile_path(profile: &Profile, locks_dir: &Path) -> PathBuf {
    match &profile.origin {
        Origin::File(path) => path.with_extension("lock.json"),
        Origin::Builtin(_) | Origin::AdHoc => locks_dir.join(format!("{}.lock.json", profile.name)),
    }
}
