//! Errors with `path:line:column: message` locations.

use std::fmt;
use std::path::PathBuf;

/// A 1-based line/column position inside a profile source.
///
/// `file` is the path as given (or `builtin:NAME` for the built-in catalogue, `<exec>` for
/// ad-hoc profiles), so the Display form is what editors and CI annotations understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: String,
    pub line: usize,
    /// Counted in characters, not bytes.
    pub column: usize,
}

impl Location {
    /// Position of byte offset `offset` in `text`.
    pub(crate) fn at(file: &str, text: &str, offset: usize) -> Location {
        // Clamp so a span one past the end (EOF errors) still maps to a real position.
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location { file: file.to_string(), line, column }
    }

    /// The start of a file (1:1), for errors about the profile as a whole.
    pub(crate) fn start(file: &str) -> Location {
        Location { file: file.to_string(), line: 1, column: 1 }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Everything that can go wrong loading a profile. Every message says how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Invalid content at a known position: syntax, unknown keys, wrong types, bad values.
    #[error("{location}: {message}")]
    Invalid { location: Location, message: String },

    /// `extends` leads back to a profile already in the chain. `chain` starts at the
    /// profile being loaded and ends with the repeated one.
    #[error("{location}: extends cycle: {}; remove one of these extends", chain.join(" -> "))]
    ExtendsCycle { location: Location, chain: Vec<String> },

    /// A profile file exists (or was named) but could not be read.
    #[error("{}: cannot read profile: {source}; check the path and its permissions", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    /// A lockfile exists but could not be read.
    #[error("{}: cannot read lockfile: {source}; check its permissions, or delete it and re-create it with `mcpcell lock PROFILE`", path.display())]
    LockfileIo { path: PathBuf, source: std::io::Error },

    /// `load(spec)` found no file, installed profile or built-in of that name.
    #[error(
        "no profile named \"{spec}\": not a file, not installed{}, not built in; use a path to a .toml file or one of the built-in profiles: {}",
        searched_dirs(searched),
        builtins.join(", ")
    )]
    NotFound { spec: String, searched: Vec<PathBuf>, builtins: Vec<String> },
}

fn searched_dirs(dirs: &[PathBuf]) -> String {
    if dirs.is_empty() {
        return String::new();
    }
    let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    format!(" (looked in {})", list.join(", "))
}

impl ProfileError {
    /// Where in which file the problem is, when it has a position.
    pub fn location(&self) -> Option<&Location> {
        match self {
            ProfileError::Invalid { location, .. } | ProfileError::ExtendsCycle { location, .. } => Some(location),
            ProfileError::Io { .. } | ProfileError::LockfileIo { .. } | ProfileError::NotFound { .. } => None,
        }
    }

    pub(crate) fn invalid(location: Location, message: impl Into<String>) -> ProfileError {
        ProfileError::Invalid { location, message: message.into() }
    }
}
