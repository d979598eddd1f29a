//! `~` expansion and lexical normalisation of host paths.

use std::path::{Component, Path, PathBuf};

/// Expands a profile path (absolute, `~` or `~/...`) against `home` and normalises it
/// lexically: drops `.`, resolves `..` (never above `/`), strips trailing slashes.
/// Symlinks are not resolved: that is the runtime's job, at the moment it binds the path.
///
/// The error is a sentence saying how to fix the path.
pub fn expand_path(written: &str, home: &Path) -> Result<PathBuf, String> {
    if written.contains('\0') {
        return Err(format!("path {written:?} contains a NUL byte; remove it"));
    }
    let raw = if written == "~" {
        home.to_path_buf()
    } else if let Some(rest) = written.strip_prefix("~/") {
        home.join(rest)
    } else if written.starts_with('~') {
        return Err(format!(
            "path \"{written}\": only \"~\" and \"~/...\" are expanded (to the invoking user's home); write an absolute path instead"
        ));
    } else if written.starts_with('/') {
        PathBuf::from(written)
    } else {
        return Err(format!("path \"{written}\" is relative; write an absolute path or one starting with \"~/\""));
    };
    let normal = normalize(&raw);
    if !normal.is_absolute() {
        // Only possible when `home` itself is relative.
        return Err(format!(
            "path \"{written}\" expands to the relative path \"{}\" because the home directory is not absolute; write an absolute path",
            normal.display()
        ));
    }
    Ok(normal)
}

/// Lexical normalisation that works for relative paths too (leading `..` are kept).
pub(crate) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`.
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_lexically() {
        let home = Path::new("/home/u");
        let cases = [
            ("~", "/home/u"),
            ("~/", "/home/u"),
            ("~/a/./b/../c/", "/home/u/a/c"),
            ("/a//b/", "/a/b"),
            ("/../..", "/"),
            ("~/../../..", "/"),
        ];
        for (input, want) in cases {
            assert_eq!(expand_path(input, home).unwrap(), PathBuf::from(want), "{input}");
        }
        assert_eq!(normalize(Path::new("../a/./b/..")), PathBuf::from("../a"));
        assert_eq!(normalize(Path::new("a/..")), PathBuf::from("."));
    }

    #[test]
    fn rejects_unexpandable_paths() {
        let home = Path::new("/home/u");
        assert_eq!(
            expand_path("docs", home).unwrap_err(),
            "path \"docs\" is relative; write an absolute path or one starting with \"~/\""
        );
        assert!(expand_path("~bob/x", home).unwrap_err().contains("only \"~\" and \"~/...\""));
        assert!(expand_path("/a\0b", home).unwrap_err().contains("NUL"));
        assert!(expand_path("", home).unwrap_err().contains("relative"));
    }
}
