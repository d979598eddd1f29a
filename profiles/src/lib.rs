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
mod parse;
mod paths;
mod raw;
mod resolve;
mod schema;
mod size;

use std::path::PathBuf;

pub use catalogue::{builtin, builtins, Builtin};
pub use error::{Location, ProfileError};
pub use host::DEFAULT_PORT;
pub use lockfile::{lockfile_path, LockedServer, LockedTool, Lockfile, LOCKFILE_VERSION};
pub use model::*;
pub use parse::is_env_name;
pub use paths::expand_path;
pub use resolve::MAX_EXTENDS_DEPTH;
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

/// Parses profile text as if it came from `origin` (which names it in errors and anchors
/// relative `extends` paths), then follows `extends`, merges and validates like [`load`].
pub fn parse_str(text: &str, origin: Origin, ctx: &LoadContext) -> Result<Profile, ProfileError> {
    resolve::parse_str(text, origin, ctx)
}
