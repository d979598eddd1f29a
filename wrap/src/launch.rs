//! Understanding a stdio server's `command` and `args`: which package or script it starts, and
//! with which arguments. Anything not understood is an `Err` naming why; the caller leaves that
//! server unchanged.

use std::path::{Path, PathBuf};

/// What a config entry starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A registry package, run from mcpcell's install cache (`[server] package`).
    Package(PackageRef),
    /// An interpreter on the host running a script or module: `[server] command` and the leading
    /// arguments (`/path/script.js`, `-m module`), with the directories it must read.
    Interpreter { command: String, lead: Vec<String>, reads: Vec<Grant> },
}

/// A path the server must see, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant {
    pub path: PathBuf,
    pub why: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ecosystem {
    Npm,
    Pypi,
}

/// `npm:NAME[@VERSION]` or `pypi:NAME[==VERSION]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackageRef {
    pub ecosystem: Ecosystem,
    pub name: String,
    /// An exact version; `None` when the config names none (pinned at first install).
    pub version: Option<String>,
}

impl PackageRef {
    /// The `[server] package` value.
    pub fn spec(&self) -> String {
        match (self.ecosystem, &self.version) {
            (Ecosystem::Npm, Some(v)) => format!("npm:{}@{v}", self.name),
            (Ecosystem::Npm, None) => format!("npm:{}", self.name),
            (Ecosystem::Pypi, Some(v)) => format!("pypi:{}=={v}", self.name),
            (Ecosystem::Pypi, None) => format!("pypi:{}", self.name),
        }
    }

    /// `npm:NAME` / `pypi:NAME`, without the version: what the catalogue and the known-server
    /// table match on.
    pub fn unversioned(&self) -> String {
        PackageRef { version: None, ..self.clone() }.spec()
    }

    /// Parses a `package` value as written in a profile (`npm:@s/n@1.2.3`, `pypi:n==1.0`).
    pub fn parse_spec(spec: &str) -> Option<PackageRef> {
        if let Some(rest) = spec.strip_prefix("npm:") {
            npm_spec(rest).ok()
        } else if let Some(rest) = spec.strip_prefix("pypi:") {
            pypi_spec(rest).ok()
        } else {
            None
        }
    }
}

/// The server as mcpcell will start it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Launch {
    /// What the config's command was (`npx`, `uvx`, `node`, `python3`), for messages.
    pub launcher: String,
    pub source: Source,
    /// The server's own arguments (after the package or script).
    pub args: Vec<String>,
    /// Things the user should know, written into the profile as comments and printed.
    pub notes: Vec<String>,
}

/// The file name of a command, whatever directory it is in.
pub(crate) fn basename(command: &str) -> &str {
    command.rsplit('/').next().unwrap_or(command)
}

pub(crate) fn parse(command: &str, args: &[String], home: &Path) -> Result<Launch, String> {
    let base = basename(command);
    match base {
        "npx" => npx(args),
        "uvx" => uvx(args),
        "node" | "nodejs" => node(command, args, home),
        _ if is_python(base) => python(command, args, home),
        _ => Err(format!(
            "command {command:?} is not one wrap understands (npx, uvx, node, python, python3); \
             write a profile for it by hand"
        )),
    }
}

fn is_python(base: &str) -> bool {
    base == "python"
        || base == "python3"
        || base.strip_prefix("python3.").is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
}

/// `npx [-y|--yes|-q] [-p PKG | --package PKG | --package=PKG] [--] PKG_OR_BIN ARGS...`
fn npx(args: &[String]) -> Result<Launch, String> {
    let mut i = 0;
    let mut packages = Vec::new();
    while i < args.len() {
        let a = args[i].as_str();
        match a {
            "-y" | "--yes" | "-q" | "--quiet" | "--no-install" => i += 1,
            "-p" | "--package" => {
                let p = args.get(i + 1).ok_or_else(|| format!("npx {a} needs a package"))?;
                packages.push(p.clone());
                i += 2;
            }
            "--" => {
                i += 1;
                break;
            }
            _ if a.starts_with("--package=") => {
                packages.push(a["--package=".len()..].to_string());
                i += 1;
            }
            _ if a.starts_with('-') => return Err(format!("npx option {a:?} is not understood")),
            _ => break,
        }
    }
    let first = args.get(i).ok_or("npx names no package")?;
    let rest = args[i + 1..].to_vec();
    let mut notes = Vec::new();
    let package = match packages.as_slice() {
        [] => npm_spec(first)?,
        [one] => {
            let pkg = npm_spec(one)?;
            let default_bin = pkg.name.rsplit('/').next().unwrap_or(&pkg.name);
            if first != default_bin {
                notes.push(format!(
                    "npx ran the bin {first:?} of {}; mcpcell starts the package's entry point \
                     (its only bin, or the one named like the package)",
                    pkg.name
                ));
            }
            pkg
        }
        _ => return Err("npx with more than one -p/--package is not understood".into()),
    };
    Ok(Launch { launcher: "npx".into(), source: Source::Package(package), args: rest, notes })
}

/// `npm install` spec → name and exact version. Tags other than `latest` and ranges are refused:
/// silently changing them to a pin would change what runs.
fn npm_spec(spec: &str) -> Result<PackageRef, String> {
    let (name, version) = match spec.strip_prefix('@') {
        Some(rest) => match rest.split_once('@') {
            Some((n, v)) => (format!("@{n}"), Some(v)),
            None => (spec.to_string(), None),
        },
        None => match spec.split_once('@') {
            Some((n, v)) => (n.to_string(), Some(v)),
            None => (spec.to_string(), None),
        },
    };
    if !is_npm_name(&name) {
        return Err(format!(
            "npm package {spec:?} is not a registry package name (git, file and URL specs are not wrapped)"
        ));
    }
    let version = match version {
        None | Some("latest") => None,
        Some(v) if is_exact_version(v) => Some(v.to_string()),
        Some(v) => {
            return Err(format!(
                "npm version {v:?} of {name} is a range or tag; write an exact version (or none) in the config"
            ))
        }
    };
    Ok(PackageRef { ecosystem: Ecosystem::Npm, name, version })
}

fn is_npm_name(name: &str) -> bool {
    let ok_part = |p: &str| {
        !p.is_empty()
            && !p.starts_with('.')
            && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._~".contains(c))
    };
    match name.strip_prefix('@') {
        Some(scoped) => matches!(scoped.split_once('/'), Some((s, n)) if ok_part(s) && ok_part(n)),
        None => ok_part(name),
    }
}

/// `1.2.3`, `2025.4.8`, `1.0.0-rc.1`, `1.0.0+build`: digits-dot-digits-dot-digits and a suffix.
fn is_exact_version(v: &str) -> bool {
    let core_end = v.find(['-', '+']).unwrap_or(v.len());
    let (core, suffix) = v.split_at(core_end);
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && suffix.chars().all(|c| c.is_ascii_alphanumeric() || "-+.".contains(c))
}

/// `uvx [-q|--quiet|--isolated|--no-cache|--refresh|--offline] [--from PKG] [--python V] PKG_OR_CMD ARGS...`
fn uvx(args: &[String]) -> Result<Launch, String> {
    let mut i = 0;
    let mut from = None;
    let mut notes = Vec::new();
    while i < args.len() {
        let a = args[i].as_str();
        let value = |i: usize| args.get(i + 1).cloned().ok_or_else(|| format!("uvx {a} needs a value"));
        match a {
            "-q" | "--quiet" | "--isolated" | "--no-cache" | "-n" | "--refresh" | "--offline" | "--no-progress" => {
                i += 1
            }
            "--from" => {
                from = Some(value(i)?);
                i += 2;
            }
            "--python" | "-p" => {
                notes.push(format!(
                    "uvx asked for Python {}; mcpcell uses the interpreter its install picks",
                    value(i)?
                ));
                i += 2;
            }
            "--" => {
                i += 1;
                break;
            }
            _ if a.starts_with("--from=") => {
                from = Some(a["--from=".len()..].to_string());
                i += 1;
            }
            _ if a.starts_with('-') => {
                return Err(format!("uvx option {a:?} is not understood (extra packages with --with are not wrapped)"))
            }
            _ => break,
        }
    }
    let first = args.get(i).ok_or("uvx names no package")?;
    let rest = args[i + 1..].to_vec();
    let package = match from {
        None => pypi_spec(first)?,
        Some(from) => {
            let pkg = pypi_spec(&from)?;
            if normalize_pypi(first) != normalize_pypi(&pkg.name) {
                notes.push(format!(
                    "uvx ran the command {first:?} of {}; mcpcell starts the package's entry point \
                     (its only console script, or the one named like the package)",
                    pkg.name
                ));
            }
            pkg
        }
    };
    Ok(Launch { launcher: "uvx".into(), source: Source::Package(package), args: rest, notes })
}

fn normalize_pypi(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// `name`, `name==1.2.3`, `name@1.2.3` (uv's spelling), `name[extra]==1.2`.
fn pypi_spec(spec: &str) -> Result<PackageRef, String> {
    let (name, version) = if let Some((n, v)) = spec.split_once("==") {
        (n, Some(v))
    } else if let Some((n, v)) = spec.split_once('@') {
        (n, Some(v))
    } else {
        (spec, None)
    };
    let name = name.trim();
    if name.contains('[') {
        // `run` installs plain names only: a profile with extras would be refused there.
        return Err(format!(
            "Python package {spec:?} asks for extras ([...]), which mcpcell's package installs do not support yet"
        ));
    }
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !valid {
        return Err(format!(
            "Python package {spec:?} is not a plain PyPI requirement (name, name==VERSION); \
             ranges, URLs and paths are not wrapped"
        ));
    }
    let version = match version {
        None | Some("latest") => None,
        Some(v) if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "._-+!".contains(c)) => {
            Some(v.to_string())
        }
        Some(v) => return Err(format!("Python version {v:?} of {name} is not an exact version")),
    };
    // PEP 503, as `run` and the catalogue spell it (mcp_server_git is mcp-server-git).
    Ok(PackageRef { ecosystem: Ecosystem::Pypi, name: mcpcell_profiles::normalize_pypi(name), version })
}

/// `node /abs/script.js ARGS...`
fn node(command: &str, args: &[String], home: &Path) -> Result<Launch, String> {
    let script = args.first().ok_or("node names no script")?;
    if script.starts_with('-') {
        return Err(format!("node option {script:?} is not understood (write `node /path/to/script.js`)"));
    }
    let path = absolute_script(script, home)?;
    let root = project_root(&path, home, &["package.json"]);
    let mut reads = interpreter_grant(command);
    reads.push(Grant { path: root, why: format!("holds the script {script}") });
    Ok(Launch {
        launcher: basename(command).into(),
        source: Source::Interpreter { command: command.into(), lead: vec![script.clone()], reads },
        args: args[1..].to_vec(),
        notes: Vec::new(),
    })
}

/// `python [-u|-B|-E|-I|-O|-s|-S] (-m MODULE | /abs/script.py) ARGS...`
fn python(command: &str, args: &[String], home: &Path) -> Result<Launch, String> {
    let mut lead = Vec::new();
    let mut i = 0;
    while let Some(a) = args.get(i) {
        match a.as_str() {
            "-u" | "-B" | "-E" | "-I" | "-O" | "-s" | "-S" => {
                lead.push(a.clone());
                i += 1;
            }
            _ => break,
        }
    }
    let mut reads = interpreter_grant(command);
    match args.get(i).map(String::as_str) {
        Some("-m") => {
            let module = args.get(i + 1).ok_or("python -m names no module")?;
            lead.extend([String::from("-m"), module.clone()]);
            i += 2;
        }
        Some(script) if !script.starts_with('-') => {
            let path = absolute_script(script, home)?;
            let root = project_root(&path, home, &["pyproject.toml", "setup.py", "setup.cfg"]);
            reads.push(Grant { path: root, why: format!("holds the script {script}") });
            lead.push(script.to_string());
            i += 1;
        }
        Some(other) => return Err(format!("python option {other:?} is not understood")),
        None => return Err("python names no module or script".into()),
    }
    Ok(Launch {
        launcher: basename(command).into(),
        source: Source::Interpreter { command: command.into(), lead, reads },
        args: args[i..].to_vec(),
        notes: Vec::new(),
    })
}

fn absolute_script(script: &str, home: &Path) -> Result<PathBuf, String> {
    let path = if script == "~" || script.starts_with("~/") {
        home.join(script.trim_start_matches('~').trim_start_matches('/'))
    } else {
        PathBuf::from(script)
    };
    if !path.is_absolute() {
        return Err(format!(
            "script path {script:?} is relative; the client's working directory is unknown, write an absolute path"
        ));
    }
    if !path.is_file() {
        return Err(format!("script {} does not exist", path.display()));
    }
    Ok(path)
}

/// The nearest ancestor holding one of `markers` (its dependencies live there), never the home
/// directory or `/` themselves; else the script's own directory.
fn project_root(script: &Path, home: &Path, markers: &[&str]) -> PathBuf {
    let dir = script.parent().unwrap_or(Path::new("/")).to_path_buf();
    let mut cur = Some(dir.as_path());
    while let Some(d) = cur {
        if d == home || d == Path::new("/") {
            break;
        }
        if markers.iter().any(|m| d.join(m).is_file()) {
            return d.to_path_buf();
        }
        cur = d.parent();
    }
    dir
}

/// An interpreter given by absolute path outside the system directories the cell always has
/// (a virtualenv, nvm): its prefix (`…/bin/python` → `…`) must be readable.
fn interpreter_grant(command: &str) -> Vec<Grant> {
    let path = Path::new(command);
    if !path.is_absolute() || ["/usr/", "/bin/", "/sbin/", "/lib"].iter().any(|p| command.starts_with(p)) {
        return Vec::new();
    }
    let Some(dir) = path.parent() else { return Vec::new() };
    let prefix = if dir.file_name().is_some_and(|n| n == "bin") { dir.parent().unwrap_or(dir) } else { dir };
    vec![Grant { path: prefix.to_path_buf(), why: format!("holds the interpreter {command}") }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn pkg(command: &str, args: &[&str]) -> (String, Vec<String>) {
        let l = parse(command, &s(args), Path::new("/home/u")).unwrap();
        match l.source {
            Source::Package(p) => (p.spec(), l.args),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn npx_forms() {
        assert_eq!(
            pkg("npx", &["-y", "@modelcontextprotocol/server-github"]).0,
            "npm:@modelcontextprotocol/server-github"
        );
        assert_eq!(pkg("npx", &["--yes", "@s/n@1.2.3", "a", "-b"]), ("npm:@s/n@1.2.3".into(), s(&["a", "-b"])));
        assert_eq!(pkg("npx", &["x@latest"]).0, "npm:x");
        assert_eq!(pkg("/usr/local/bin/npx", &["-y", "x@2025.4.8", "--", "--flag"]).1, s(&["--", "--flag"]));
        assert_eq!(pkg("npx", &["-p", "@s/tool@1.0.0", "tool", "serve"]), ("npm:@s/tool@1.0.0".into(), s(&["serve"])));
        assert_eq!(pkg("npx", &["--package=x@1.0.0-rc.1", "x"]).0, "npm:x@1.0.0-rc.1");
        let l = parse("npx", &s(&["-p", "@s/pkg", "other-bin"]), Path::new("/h")).unwrap();
        assert_eq!(l.notes.len(), 1, "a bin named unlike the package is noted");
    }

    #[test]
    fn npx_refusals() {
        for args in [
            &["-y"][..],
            &["-c", "echo hi"],
            &["x@^1.2.0"],
            &["x@next"],
            &["github:user/repo"],
            &["./local"],
            &["-p", "a", "-p", "b", "a"],
            &["Upper"],
        ] {
            assert!(parse("npx", &s(args), Path::new("/h")).is_err(), "{args:?}");
        }
    }

    #[test]
    fn uvx_forms() {
        assert_eq!(pkg("uvx", &["mcp-server-time"]).0, "pypi:mcp-server-time");
        assert_eq!(
            pkg("uvx", &["mcp-server-fetch==2025.4.7", "--x"]),
            ("pypi:mcp-server-fetch==2025.4.7".into(), s(&["--x"]))
        );
        assert_eq!(pkg("uvx", &["mcp-server-git@1.0"]).0, "pypi:mcp-server-git==1.0");
        assert_eq!(
            pkg("uvx", &["--from", "mcp-server-git==2.0", "mcp-server-git", "-r", "/r"]).0,
            "pypi:mcp-server-git==2.0"
        );
        assert_eq!(pkg("uvx", &["mcp_server_git"]).0, "pypi:mcp-server-git");
        for args in [
            &["--from=pkg[cli]==1", "pkg"][..],
            &["--with", "x", "y"],
            &["--from", "git+https://x/y", "y"],
            &["y>=1"],
            &["./dir"],
        ] {
            assert!(parse("uvx", &s(args), Path::new("/h")).is_err(), "{args:?}");
        }
    }

    #[test]
    fn package_spec_round_trip() {
        for spec in ["npm:@s/n@1.2.3", "npm:n", "pypi:a-b==1.0", "pypi:a"] {
            assert_eq!(PackageRef::parse_spec(spec).unwrap().spec(), spec);
        }
        assert_eq!(PackageRef::parse_spec("npm:@s/n@1.2.3").unwrap().unversioned(), "npm:@s/n");
        assert!(PackageRef::parse_spec("cargo:x").is_none());
    }

    #[test]
    fn interpreters() {
        let dir = std::env::temp_dir().join(format!("mcpcell-wrap-launch-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proj/dist")).unwrap();
        std::fs::write(dir.join("proj/package.json"), "{}").unwrap();
        std::fs::write(dir.join("proj/dist/index.js"), "").unwrap();
        let script = dir.join("proj/dist/index.js").display().to_string();
        let l = parse("node", &s(&[&script, "--port", "1"]), Path::new("/home/u")).unwrap();
        assert_eq!(l.args, s(&["--port", "1"]));
        match &l.source {
            Source::Interpreter { command, lead, reads } => {
                assert_eq!(command, "node");
                assert_eq!(lead, &s(&[&script]));
                assert_eq!(reads[0].path, dir.join("proj"), "the package root, where node_modules lives");
            }
            other => panic!("{other:?}"),
        }
        let l = parse("/opt/venv/bin/python3", &s(&["-u", "-m", "srv", "x"]), Path::new("/h")).unwrap();
        match &l.source {
            Source::Interpreter { lead, reads, .. } => {
                assert_eq!(lead, &s(&["-u", "-m", "srv"]));
                assert_eq!(reads[0].path, PathBuf::from("/opt/venv"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(l.args, s(&["x"]));
        assert!(parse("node", &s(&["rel/x.js"]), Path::new("/h")).is_err());
        assert!(parse("node", &s(&["-e", "1"]), Path::new("/h")).is_err());
        assert!(parse("python", &s(&["-c", "1"]), Path::new("/h")).is_err());
        assert!(parse("node", &s(&["/nonexistent/x.js"]), Path::new("/h")).is_err());
        assert!(parse("docker", &s(&["run"]), Path::new("/h")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
