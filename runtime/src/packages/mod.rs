//! `[server] package = "npm:..."` / `"pypi:..."`: install the package OUTSIDE the cell into a
//! content-addressed cache, pin it in the profile's lockfile, verify the cache before every
//! start, and turn the profile into one that runs the package's entry point with its tree and
//! interpreter mounted read-only.
//!
//! Cache layout, under `$XDG_CACHE_HOME/mcpcell` (default `~/.cache/mcpcell`):
//! - `npm/KEY/node_modules/`, `pypi/KEY/site/`: an installed tree. KEY is the SHA-256 of the
//!   resolution (every package with its version and registry integrity), so one resolution is
//!   installed once and shared by every profile that pins it.
//! - `npm/KEY.stamp`, `pypi/KEY.stamp`: the tree hash it was verified against and a digest of
//!   the tree's file metadata at that moment (see [`verify`]).
//! - `npm/KEY.files`, `pypi/KEY.files`: each file's SHA-256 at install, to name the file that changed.
//! - `tmp/`: staging; an install is renamed into place only when complete.

mod install;
pub mod tree;

use crate::plan::resolve::find_program;
use mcpcell_profiles::{Ecosystem, LockedPackage, Lockfile, PackageRef, PackageVersion, PathGrant, Profile};
use std::path::{Path, PathBuf};

/// Errors of installing or verifying a package. Each names the package, the path and the fix.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("package {name} is not in the catalogue but its name resembles the catalogue's {resembles}: a typosquat? Check the name; if you do mean {name}, pass --i-mean-it (or add `i_mean_it = true` to [server])")]
    Typosquat { name: String, resembles: String },

    #[error(transparent)]
    Tampered(Box<TamperedCache>),

    #[error("installing {package}: {detail}")]
    Install { package: String, detail: String },

    #[error("{package}: {detail}")]
    Unsupported { package: String, detail: String },

    #[error("lockfile {path}: {detail}")]
    Lockfile { path: PathBuf, detail: String },

    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

/// A cached tree that no longer matches its lockfile.
#[derive(Debug, thiserror::Error)]
#[error("{path}: the cached package {package} has been modified since it was installed (tree hash {found}, the lockfile {lock} says {want}); refusing to run it. Delete {dir} and run again to reinstall it from the lockfile (the registry integrity is checked again)")]
pub struct TamperedCache {
    pub package: String,
    /// The first file found changed (or the tree, when that cannot be told).
    pub path: PathBuf,
    pub dir: PathBuf,
    pub lock: PathBuf,
    pub found: String,
    pub want: String,
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PackageError {
    let what = what.into();
    move |source| PackageError::Io { what, source }
}

/// How a package was found at this start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageStatus {
    /// In the cache, and its tree matches the lockfile: started with no network at all.
    Verified,
    /// Installed (or reinstalled from the lockfile) just now.
    Installed,
    /// Not in the cache yet (explain only): `run` will install it.
    NotInstalled,
    /// In the cache, but its tree does not match the lockfile: `run` refuses.
    Tampered(PathBuf),
}

/// What `explain` and the launcher say about the package.
#[derive(Debug, Clone)]
pub struct PackageReport {
    pub requested: PackageRef,
    /// The pin in the lockfile, when there is one for this request.
    pub locked: Option<LockedPackage>,
    pub lock_path: PathBuf,
    pub status: PackageStatus,
    /// The installed tree (mounted read-only).
    pub tree: Option<PathBuf>,
    /// The interpreter that runs it (node, python3) and, when it lives outside the system
    /// directories, the directory mounted read-only for it.
    pub interpreter: Option<PathBuf>,
    pub interpreter_mount: Option<PathBuf>,
}

/// A package profile turned into a command profile.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// `command` = the interpreter, `args` = entry point + the profile's args, `read` += the
    /// tree and (if needed) the interpreter's directory.
    pub profile: Profile,
    pub report: PackageReport,
}

/// Where things live for the invoking user.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// `$XDG_CACHE_HOME/mcpcell` or `~/.cache/mcpcell`.
    pub cache: PathBuf,
    /// The profile's lockfile.
    pub lock_path: PathBuf,
    /// The launcher's PATH (to find node, npm, python3).
    pub path_env: String,
}

impl Dirs {
    pub fn for_profile(profile: &Profile, home: &Path, env: &dyn Fn(&str) -> Option<String>) -> Dirs {
        let abs = |k: &str| env(k).map(PathBuf::from).filter(|p| p.is_absolute());
        let cache = abs("XDG_CACHE_HOME").unwrap_or_else(|| home.join(".cache")).join("mcpcell");
        let locks = abs("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config")).join("mcpcell/locks");
        Dirs {
            cache,
            lock_path: mcpcell_profiles::lockfile_path(profile, &locks),
            path_env: env("PATH").unwrap_or_else(|| crate::plan::CELL_PATH.to_string()),
        }
    }
}

/// Options from the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `--i-mean-it`: skip the typosquat guard.
    pub i_mean_it: bool,
}

/// The catalogue package `pkg` resembles, unless the profile or the command line says it is
/// meant.
pub fn typosquat_check(profile: &Profile, pkg: &PackageRef, opts: &Options) -> Result<(), PackageError> {
    if opts.i_mean_it || profile.server.i_mean_it {
        return Ok(());
    }
    let catalogue = mcpcell_profiles::catalogue_packages();
    match mcpcell_profiles::resembles(pkg, catalogue.iter().map(|(_, p)| p)) {
        Some(near) => Err(PackageError::Typosquat { name: pkg.key(), resembles: near.key() }),
        None => Ok(()),
    }
}

/// Install (if needed), verify, pin and turn `profile` into one the cell can run. `Ok(None)`
/// when the profile names a command, not a package. Progress lines go to `progress`.
pub fn prepare(
    profile: &Profile,
    dirs: &Dirs,
    opts: &Options,
    progress: &mut dyn FnMut(&str),
) -> Result<Option<Prepared>, PackageError> {
    let Some(pkg) = profile.server.package.clone() else { return Ok(None) };
    typosquat_check(profile, &pkg, opts)?;
    let scripts = profile.server.install_scripts;
    if scripts && pkg.ecosystem == Ecosystem::Pypi {
        return Err(PackageError::Unsupported {
            package: pkg.to_string(),
            detail: "install_scripts is for npm packages; PyPI packages are installed from wheels only (no build code runs), and building from source is not supported yet: remove install_scripts".into(),
        });
    }
    let lockfile = read_lock(&dirs.lock_path)?;
    let locked = lockfile.as_ref().and_then(|l| l.package.clone()).filter(|lp| lock_matches(lp, &pkg, scripts));
    let reuse = if locked.is_none() { reusable(&pkg, scripts, dirs) } else { None };
    let (lp, status) = match locked.or(reuse.clone()) {
        Some(mut lp) if reuse.is_some() => {
            // Already installed (and verified just now) for another profile: pin the same tree.
            lp.requested = pkg.to_string();
            write_lock(&dirs.lock_path, lockfile, &lp)?;
            progress(&format!(
                "{pkg}: pinned the cached {} ({}) in {}",
                lp.version,
                lp.integrity,
                dirs.lock_path.display()
            ));
            (lp, PackageStatus::Verified)
        }
        Some(lp) => {
            let dir = install::dir_for(&dirs.cache, &lp);
            let tree = install::tree_root(&dir, pkg.ecosystem);
            if tree.is_dir() {
                verify(&pkg, &lp, &dir, &dirs.lock_path)?;
                install::write_index(&dirs.cache, &pkg, &lp)?;
                (lp, PackageStatus::Verified)
            } else {
                progress(&format!(
                    "{pkg}: not in the cache; reinstalling {} from {}",
                    lp.version,
                    dirs.lock_path.display()
                ));
                let fresh = install::install(&pkg, Some(&lp), scripts, dirs, progress)?;
                if fresh.tree_sha256 != lp.tree_sha256 {
                    // The registry integrity of every file was checked by npm/pip; only the
                    // installer's layout differs (another npm or pip version). Record it.
                    progress(&format!(
                        "{pkg}: the reinstalled tree hashes to {} (the lockfile had {}); every download matched the lockfile's registry integrity, so the lockfile is updated",
                        short(&fresh.tree_sha256),
                        short(&lp.tree_sha256)
                    ));
                    write_lock(&dirs.lock_path, lockfile, &fresh)?;
                }
                (fresh, PackageStatus::Installed)
            }
        }
        None => {
            progress(&format!(
                "{pkg}: installing into {} (install scripts {})",
                dirs.cache.display(),
                if scripts { "run in a cell" } else { "disabled" }
            ));
            let fresh = install::install(&pkg, None, scripts, dirs, progress)?;
            write_lock(&dirs.lock_path, lockfile, &fresh)?;
            progress(&format!("{pkg}: pinned {} ({}) in {}", fresh.version, fresh.integrity, dirs.lock_path.display()));
            (fresh, PackageStatus::Installed)
        }
    };
    let dir = install::dir_for(&dirs.cache, &lp);
    let tree = install::tree_root(&dir, pkg.ecosystem);
    let run = install::runtime(&pkg, &lp, &tree, &dirs.path_env)?;
    let mut p = profile.clone();
    p.server.command = run.program.display().to_string();
    let mut args = run.args;
    args.extend(profile.server.args.iter().cloned());
    p.server.args = args;
    p.filesystem.read.push(PathGrant { path: tree.clone(), optional: false });
    if let Some(m) = &run.mount {
        p.filesystem.read.push(PathGrant { path: m.clone(), optional: false });
    }
    let report = PackageReport {
        requested: pkg,
        locked: Some(lp),
        lock_path: dirs.lock_path.clone(),
        status,
        tree: Some(tree),
        interpreter: Some(run.program),
        interpreter_mount: run.mount,
    };
    Ok(Some(Prepared { profile: p, report }))
}

/// What `explain` shows: the pin and whether the cache matches it, without installing anything
/// or touching the network.
pub fn inspect(profile: &Profile, dirs: &Dirs) -> Option<PackageReport> {
    let pkg = profile.server.package.clone()?;
    let locked = read_lock(&dirs.lock_path)
        .ok()
        .flatten()
        .and_then(|l| l.package)
        .filter(|lp| lock_matches(lp, &pkg, profile.server.install_scripts));
    let mut report = PackageReport {
        requested: pkg.clone(),
        locked: locked.clone(),
        lock_path: dirs.lock_path.clone(),
        status: PackageStatus::NotInstalled,
        tree: None,
        interpreter: None,
        interpreter_mount: None,
    };
    let Some(lp) = locked else { return Some(report) };
    let dir = install::dir_for(&dirs.cache, &lp);
    let tree = install::tree_root(&dir, pkg.ecosystem);
    if !tree.is_dir() {
        return Some(report);
    }
    report.status = match verify(&pkg, &lp, &dir, &dirs.lock_path) {
        Ok(()) => PackageStatus::Verified,
        Err(PackageError::Tampered(t)) => PackageStatus::Tampered(t.path),
        Err(_) => PackageStatus::Tampered(tree.clone()),
    };
    if let Ok(run) = install::runtime(&pkg, &lp, &tree, &dirs.path_env) {
        report.interpreter = Some(run.program);
        report.interpreter_mount = run.mount;
    }
    report.tree = Some(tree);
    Some(report)
}

/// A verified install of exactly this version already in the cache (recorded in the cache's
/// index when it was installed), for a profile with no pin yet.
fn reusable(pkg: &PackageRef, scripts: bool, dirs: &Dirs) -> Option<LockedPackage> {
    if pkg.version == PackageVersion::Latest {
        return None;
    }
    let text = std::fs::read_to_string(install::index_path(&dirs.cache, &pkg.to_string(), scripts)).ok()?;
    let lp: LockedPackage = serde_json::from_str(&text).ok()?;
    if !lock_matches(&lp, pkg, scripts) {
        return None;
    }
    let dir = install::dir_for(&dirs.cache, &lp);
    verify(pkg, &lp, &dir, &dirs.lock_path).ok()?;
    Some(lp)
}

/// Whether the lockfile's pin answers this request: same package, and the requested version
/// (if any) is the pinned one; the same choice about install scripts.
fn lock_matches(lp: &LockedPackage, pkg: &PackageRef, scripts: bool) -> bool {
    if lp.source != pkg.key() || lp.install_scripts != scripts {
        return false;
    }
    match &pkg.version {
        PackageVersion::Latest => true,
        PackageVersion::Exact(v) => &lp.version == v,
        PackageVersion::File(_) => lp.requested == pkg.to_string(),
    }
}

fn read_lock(path: &Path) -> Result<Option<Lockfile>, PackageError> {
    Lockfile::read(path).map_err(|e| PackageError::Lockfile { path: path.to_path_buf(), detail: e.to_string() })
}

/// Record `lp` in the lockfile, keeping the tool pins it holds.
fn write_lock(path: &Path, existing: Option<Lockfile>, lp: &LockedPackage) -> Result<(), PackageError> {
    let mut lock = existing.unwrap_or(Lockfile {
        version: mcpcell_profiles::LOCKFILE_VERSION,
        server: None,
        tools: None,
        package: None,
    });
    lock.package = Some(lp.clone());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, lock.to_pretty_json()).map_err(io(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io(format!("writing {}", path.display())))
}

/// Check the cached tree against the lockfile's hash. Fast path: the stamp written when the
/// tree was last hashed names the same tree hash, and the tree's file metadata (inode, size,
/// mode, mtime and ctime of every entry) is unchanged since, so no byte can have changed
/// (writing a file moves its ctime, which no unprivileged process can set back). Otherwise
/// every file is hashed again; a match refreshes the stamp, a mismatch refuses.
pub fn verify(pkg: &PackageRef, lp: &LockedPackage, dir: &Path, lock_path: &Path) -> Result<(), PackageError> {
    let tree = install::tree_root(dir, pkg.ecosystem);
    let stamp = install::stamp_path(dir);
    let stat = tree::stat_digest(&tree).map_err(io(format!("reading {}", tree.display())))?;
    if let Ok(text) = std::fs::read_to_string(&stamp) {
        if text.split_whitespace().eq([lp.tree_sha256.as_str(), stat.as_str()]) {
            return Ok(());
        }
    }
    let (found, files) = tree::tree_sha256(&tree).map_err(io(format!("hashing {}", tree.display())))?;
    if found == lp.tree_sha256 {
        install::write_stamp(dir, &found)?;
        return Ok(());
    }
    let path = install::first_difference(dir, &files).unwrap_or_else(|| tree.clone());
    Err(PackageError::Tampered(Box::new(TamperedCache {
        package: pkg.to_string(),
        path,
        dir: dir.to_path_buf(),
        lock: lock_path.to_path_buf(),
        found: short(&found).to_string(),
        want: short(&lp.tree_sha256).to_string(),
    })))
}

fn short(hash: &str) -> &str {
    hash.get(..16).unwrap_or(hash)
}

/// The interpreter: `name` found in `path_env`, canonicalised.
pub(crate) fn interpreter(name: &str, path_env: &str) -> Result<PathBuf, String> {
    let found = find_program(name, path_env, Path::new("/")).map_err(|e| e.to_string())?;
    std::fs::canonicalize(&found).map_err(|e| format!("{}: {e}", found.display()))
}

/// The directory to mount for an interpreter outside the system directories: its prefix
/// (`/opt/node` for `/opt/node/bin/node`), which holds its standard library.
pub(crate) fn interpreter_mount(program: &Path) -> Option<PathBuf> {
    let system = crate::plan::resolve::SYSTEM_DIRS.iter().any(|d| program.starts_with(d));
    if system {
        return None;
    }
    let bin = program.parent()?;
    Some(if bin.file_name().is_some_and(|n| n == "bin") { bin.parent()?.to_path_buf() } else { bin.to_path_buf() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpcell_profiles::LockedEntry;

    fn pin(requested: &str, version: &str, scripts: bool) -> LockedPackage {
        let pkg: PackageRef = requested.parse().unwrap();
        LockedPackage {
            source: pkg.key(),
            requested: requested.into(),
            version: version.into(),
            integrity: "sha512-x".into(),
            entry: LockedEntry { name: "x".into(), target: "x.js".into() },
            python: None,
            install_scripts: scripts,
            tree_sha256: "00".into(),
            npm_packages: Some(Default::default()),
            pypi_dists: None,
        }
    }

    #[test]
    fn a_pin_answers_the_same_package_and_version_only() {
        let p = |s: &str| s.parse::<PackageRef>().unwrap();
        let lp = pin("npm:@a/b", "1.2.3", false);
        assert!(lock_matches(&lp, &p("npm:@a/b"), false), "unpinned request: the lockfile decides");
        assert!(lock_matches(&lp, &p("npm:@a/b@1.2.3"), false));
        assert!(!lock_matches(&lp, &p("npm:@a/b@1.2.4"), false), "another version re-resolves");
        assert!(!lock_matches(&lp, &p("npm:@a/c@1.2.3"), false), "another package");
        assert!(!lock_matches(&lp, &p("npm:@a/b"), true), "install scripts change the tree");
    }

    #[test]
    fn interpreters_outside_the_system_dirs_get_their_prefix_mounted() {
        assert_eq!(interpreter_mount(Path::new("/usr/bin/node")), None);
        assert_eq!(interpreter_mount(Path::new("/usr/local/bin/python3.12")), None);
        assert_eq!(
            interpreter_mount(Path::new("/root/.nvm/versions/node/v20.1.0/bin/node")),
            Some(PathBuf::from("/root/.nvm/versions/node/v20.1.0"))
        );
        assert_eq!(interpreter_mount(Path::new("/opt/py/python3")), Some(PathBuf::from("/opt/py")));
    }

    #[test]
    fn cache_directories_are_keyed_by_the_resolution() {
        let a = pin("npm:@a/b", "1.2.3", false);
        let mut b = a.clone();
        b.requested = "npm:@a/b@1.2.3".into();
        b.tree_sha256 = "11".into();
        let cache = Path::new("/c");
        assert_eq!(install::dir_for(cache, &a), install::dir_for(cache, &b), "same resolution, same directory");
        let mut c = a.clone();
        c.npm_packages =
            Some(serde_json::json!({ "node_modules/x": { "integrity": "sha512-y" } }).as_object().cloned().unwrap());
        assert_ne!(install::dir_for(cache, &a), install::dir_for(cache, &c));
        let scripts = pin("npm:@a/b", "1.2.3", true);
        assert_ne!(install::dir_for(cache, &a), install::dir_for(cache, &scripts));
    }
}
