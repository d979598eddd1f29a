//! Package sources: `npm:@scope/name@1.2.3`, `npm:name`, `pypi:name==1.2.3`, `pypi:name`, and
//! the typosquat check against the catalogue's package names. Pure: parsing and comparing only;
//! installing is the runtime's job.

use std::fmt;
use std::path::PathBuf;

/// The registry a package comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecosystem {
    Npm,
    Pypi,
}

impl Ecosystem {
    /// `npm` / `pypi`, as written before the `:`.
    pub fn prefix(self) -> &'static str {
        match self {
            Ecosystem::Npm => "npm",
            Ecosystem::Pypi => "pypi",
        }
    }
}

/// Which version of the package to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageVersion {
    /// Not pinned in the profile: resolved (latest) at first install and pinned in the lockfile.
    Latest,
    /// An exact version (`1.2.3`, `2026.8.31`, `1.0.0-rc.1`); ranges are refused.
    Exact(String),
    /// npm only: a local tarball (`npm:name@file:/abs/path/name-1.0.0.tgz`), for tests and
    /// packages that are not published.
    File(PathBuf),
}

/// `[server] package = "..."` or `mcpcell run npm:...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRef {
    pub ecosystem: Ecosystem,
    /// npm: as written (`@scope/name`); PyPI: normalised (PEP 503: lower case, runs of `-_.` as `-`).
    pub name: String,
    pub version: PackageVersion,
}

impl fmt::Display for PackageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.ecosystem.prefix(), self.name)?;
        match (&self.version, self.ecosystem) {
            (PackageVersion::Latest, _) => Ok(()),
            (PackageVersion::Exact(v), Ecosystem::Npm) => write!(f, "@{v}"),
            (PackageVersion::Exact(v), Ecosystem::Pypi) => write!(f, "=={v}"),
            (PackageVersion::File(p), _) => write!(f, "@file:{}", p.display()),
        }
    }
}

impl PackageRef {
    /// The name with its ecosystem and no version: `npm:@scope/name`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.ecosystem.prefix(), self.name)
    }

    /// Whether `text` looks like a package source rather than a profile (`npm:` or `pypi:`).
    pub fn is_package_spec(text: &str) -> bool {
        text.starts_with("npm:") || text.starts_with("pypi:")
    }
}

impl std::str::FromStr for PackageRef {
    type Err = String;

    /// Parses `npm:NAME[@VERSION]`, `npm:NAME@file:/abs/path.tgz` or `pypi:NAME[==VERSION]`.
    fn from_str(text: &str) -> Result<Self, String> {
        if let Some(rest) = text.strip_prefix("npm:") {
            parse_npm(rest)
        } else if let Some(rest) = text.strip_prefix("pypi:") {
            parse_pypi(rest)
        } else {
            Err(format!(
                "package \"{text}\" names no registry; write \"npm:@scope/name@1.2.3\", \"npm:name\", \"pypi:name==1.2.3\" or \"pypi:name\""
            ))
        }
    }
}

fn parse_npm(rest: &str) -> Result<PackageRef, String> {
    // A scoped name starts with '@': the version separator is the next '@' after the '/'.
    let split =
        if let Some(scoped) = rest.strip_prefix('@') { scoped.find('@').map(|i| i + 1) } else { rest.find('@') };
    let (name, version) = match split {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    check_npm_name(name)?;
    let version = match version {
        None => PackageVersion::Latest,
        Some(v) if v.starts_with("file:") => {
            let path = PathBuf::from(&v["file:".len()..]);
            if !path.is_absolute() || !v.ends_with(".tgz") {
                return Err(format!(
                    "npm package {name}: \"{v}\" must be file: followed by an absolute path to a .tgz (from `npm pack`)"
                ));
            }
            PackageVersion::File(path)
        }
        Some(v) => PackageVersion::Exact(exact_version(v, &format!("npm:{name}@"))?),
    };
    Ok(PackageRef { ecosystem: Ecosystem::Npm, name: name.to_string(), version })
}

/// npm's rules (validate-npm-package-name, for new packages): lower case, at most 214
/// characters, URL-safe characters, an optional `@scope/`.
fn check_npm_name(name: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("npm package name \"{name}\": {why}"));
    if name.is_empty() {
        return bad("is empty; write npm:name or npm:@scope/name");
    }
    if name.len() > 214 {
        return bad("is longer than 214 characters");
    }
    let (scope, base) = match name.strip_prefix('@') {
        Some(scoped) => match scoped.split_once('/') {
            Some((scope, base)) => (Some(scope), base),
            None => return bad("a scoped name is @scope/name"),
        },
        None => (None, name),
    };
    let part_ok = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && !p.starts_with('_')
            && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._~".contains(&b))
    };
    if scope.is_some_and(|s| !part_ok(s)) || !part_ok(base) {
        return bad("use lower-case letters, digits and - . _ ~ (not first: . _), like @scope/name");
    }
    Ok(())
}

fn parse_pypi(rest: &str) -> Result<PackageRef, String> {
    let (name, version) = match rest.split_once("==") {
        Some((n, v)) => (n, Some(v)),
        None => (rest, None),
    };
    if let Some(op) = ["[", ">", "<", "~", "!", "=", "@", ";", " "].iter().find(|op| name.contains(*op)) {
        return Err(format!(
            "PyPI package \"{rest}\": \"{op}\" is not supported here; write pypi:name or pypi:name==1.2.3 (an exact version, no extras, ranges or URLs)"
        ));
    }
    let ok = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric());
    if !ok {
        return Err(format!(
            "PyPI package name \"{name}\": use letters, digits and - _ . (starting and ending with a letter or digit)"
        ));
    }
    let version = match version {
        None => PackageVersion::Latest,
        Some(v) => PackageVersion::Exact(exact_version(v, &format!("pypi:{name}=="))?),
    };
    Ok(PackageRef { ecosystem: Ecosystem::Pypi, name: normalize_pypi(name), version })
}

/// PEP 503 normalisation: lower case, runs of `-`, `_` and `.` become one `-`.
pub fn normalize_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// An exact version: starts with a digit, then letters, digits and `.` `-` `+` `!`. Ranges
/// (`^1.2`, `>=1`, `1.x`, `*`, `latest`) are refused: a profile pins or leaves the version out.
fn exact_version(v: &str, written: &str) -> Result<String, String> {
    let ok = v.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b".-+!".contains(&b))
        && !v.split('.').any(|part| part.eq_ignore_ascii_case("x") || part.is_empty());
    if ok {
        Ok(v.to_string())
    } else {
        Err(format!(
            "version \"{v}\" in {written}{v} is not an exact version; write one like 1.2.3, or leave the version out to pin the latest at first install"
        ))
    }
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions), over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The catalogue package `pkg` looks like a typo of, if any: a different package of the same
/// registry whose name is within a small edit distance (1 for names up to 8 characters, 2
/// above), or whose unscoped part is the same under another (or no) scope
/// (`@modelcontextprotocl/server-github`, `server-github`). `None` when `pkg` is itself a
/// catalogue package or resembles none.
pub fn resembles<'a>(pkg: &PackageRef, catalogue: impl IntoIterator<Item = &'a PackageRef>) -> Option<&'a PackageRef> {
    let known: Vec<&PackageRef> = catalogue.into_iter().filter(|c| c.ecosystem == pkg.ecosystem).collect();
    if known.iter().any(|c| c.name == pkg.name) {
        return None;
    }
    let unscoped = |n: &str| n.rsplit('/').next().unwrap_or(n).to_string();
    let limit = |n: &str| if n.chars().count() <= 8 { 1 } else { 2 };
    known.into_iter().find(|c| {
        edit_distance(&c.name, &pkg.name) <= limit(&c.name)
            || (c.name.contains('/') && unscoped(&c.name) == unscoped(&pkg.name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PackageRef {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_the_agreed_forms() {
        let a = p("npm:@modelcontextprotocol/server-github@2025.4.8");
        assert_eq!(a.name, "@modelcontextprotocol/server-github");
        assert_eq!(a.version, PackageVersion::Exact("2025.4.8".into()));
        assert_eq!(a.to_string(), "npm:@modelcontextprotocol/server-github@2025.4.8");
        assert_eq!(p("npm:@scope/name").version, PackageVersion::Latest);
        assert_eq!(p("npm:left-pad@1.3.0").name, "left-pad");
        let b = p("pypi:MCP_Server.Time==2026.10.19");
        assert_eq!(b.name, "mcp-server-time");
        assert_eq!(b.to_string(), "pypi:mcp-server-time==2026.10.19");
        assert_eq!(p("pypi:mcp-server-git").version, PackageVersion::Latest);
        assert_eq!(p("npm:fx@file:/tmp/fx-1.0.0.tgz").version, PackageVersion::File("/tmp/fx-1.0.0.tgz".into()));
    }

    #[test]
    fn refuses_ranges_bad_names_and_other_registries() {
        for bad in [
            "npm:x@^1.2.0",
            "npm:x@1.x",
            "npm:x@latest",
            "npm:X",
            "npm:@scope",
            "npm:",
            "pypi:x>=1",
            "pypi:x[cli]",
            "pypi:x==",
            "cargo:x",
            "npm:x@file:rel.tgz",
        ] {
            assert!(bad.parse::<PackageRef>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn distance_counts_transpositions() {
        assert_eq!(edit_distance("github", "gihtub"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn typosquats_resemble_and_catalogue_names_do_not() {
        let cat = [p("npm:@modelcontextprotocol/server-github"), p("pypi:mcp-server-git"), p("pypi:mcp-server-time")];
        let hit = |s: &str| resembles(&p(s), &cat).map(|c| c.name.clone());
        assert_eq!(
            hit("npm:@modelcontextprotocol/server-githb").as_deref(),
            Some("@modelcontextprotocol/server-github")
        );
        assert!(hit("npm:@modelcontextprotocoll/server-github").is_some());
        assert!(hit("npm:server-github").is_some(), "same unscoped name without the scope");
        assert!(hit("pypi:mcp-server-gti").is_some());
        assert_eq!(hit("npm:@modelcontextprotocol/server-github"), None);
        assert_eq!(hit("pypi:mcp-server-time"), None);
        assert_eq!(hit("npm:left-pad"), None);
        // Another registry never matches.
        assert_eq!(hit("npm:mcp-server-git"), None);
    }
}
