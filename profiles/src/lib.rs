//! mcpcell's policy model: profile types, TOML parsing with `path:line:column` errors,
//! validation, `extends` merging, and the built-in catalogue.
//!
//! Pure: nothing here starts processes, builds namespaces or touches the network. The only
//! filesystem access is reading profile files and, when asked, checking granted paths exist.
//! The format is documented in this crate's README.md.

mod catalogue;
mod error;
mod host;
mod lockfile;
pub mod model;
mod package;
mod parse;
mod paths;
mod raw;
mod resolve;
mod schema;
mod size;

use std::path::PathBuf;

pub use catalogue::{builtin, builtin_for_package, builtins, catalogue_packages, Builtin};
pub use error::{Location, ProfileError};
pub use host::DEFAULT_PORT;
pub use lockfile::{
    lockfile_path, LockedDist, LockedEntry, LockedPackage, LockedServer, LockedTool, Lockfile, LOCKFILE_VERSION,
};
pub use model::*;
pub use package::{edit_distance, normalize_pypi, resembles, Ecosystem, PackageRef, PackageVersion};
pub use parse::is_env_name;
pub use paths::expand_path;
pub use resolve::{check_issuer_url, MAX_EXTENDS_DEPTH};
pub use schema::json_schema;
pub use size::{format_size, parse_size};

/// What loading needs to know about the invoking user and host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadContext {
    /// The invoking user's home, for `~` expansion.
    pub home: PathBuf,
    /// Where installed profiles live, searched in order for `NAME.toml`.
    pub profile_dirs: Vec<PathBuf>,
    /// Require non-optional filesystem grants and `server.cwd` to exist.
    pub check_paths: bool,
}

/// Loads a profile by spec: a path (contains `/` or ends with `.toml`), else `NAME.toml` in
/// `ctx.profile_dirs`, else the built-in catalogue; follows `extends`, merges, validates.
pub fn load(spec: &str, ctx: &LoadContext) -> Result<Profile, ProfileError> {
    resolve::load(spec, ctx)
}

/// The profile `mcpcell run npm:NAME[@VERSION]` / `pypi:NAME[==VERSION]` runs: the catalogue
/// profile of that package when there is one (with the version given on the command line, if
/// any, in place of the catalogue's pin), else a least-privilege profile granting nothing.
/// Its name (for the lockfile) is the catalogue name, or `npm-NAME` / `pypi-NAME` with `@`
/// dropped and `/` turned into `-`.
pub fn package_profile(spec: &str, ctx: &LoadContext) -> Result<Profile, ProfileError> {
    let at = || Location::start("<command line>");
    let pkg: PackageRef = spec.parse().map_err(|why: String| ProfileError::invalid(at(), why))?;
    let quoted = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let builtin = catalogue::builtin_for_package(&pkg);
    if let (Some(b), PackageVersion::Latest) = (builtin, &pkg.version) {
        return load(b.name, ctx);
    }
    let text = match builtin {
        Some(b) => format!("extends = {}\n[server]\npackage = {}\n", quoted(b.name), quoted(&pkg.to_string())),
        None => format!(
            "description = {}\n[server]\npackage = {}\n",
            quoted(&format!("{pkg} with nothing granted: no files, no network, no secrets")),
            quoted(&pkg.to_string())
        ),
    };
    let mut profile = parse_str(&text, Origin::AdHoc, ctx)?;
    profile.name = format!("{}-{}", pkg.ecosystem.prefix(), pkg.name.trim_start_matches('@').replace('/', "-"));
    Ok(profile)
}

/// Parses profile text as if it came from `origin` (which names it in errors and anchors
/// relative `extends` paths), then follows `extends`, merges and validates like [`load`].
pub fn parse_str(text: &str, origin: Origin, ctx: &LoadContext) -> Result<Profile, ProfileError> {
    resolve::parse_str(text, origin, ctx)
}
