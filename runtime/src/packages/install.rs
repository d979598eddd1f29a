//! Installing with the host's npm and pip, outside the cell, into the cache; finding the entry
//! point; and the command that runs it.

use super::{io, tree, Dirs, PackageError};
use mcpcell_profiles::{Ecosystem, LockedDist, LockedEntry, LockedPackage, PackageRef, PackageVersion};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The cache directory of a resolution: `npm/KEY` or `pypi/KEY`.
pub(super) fn dir_for(cache: &Path, lp: &LockedPackage) -> PathBuf {
    let (eco, resolution) = if lp.source.starts_with("npm:") {
        ("npm", json!({ "packages": lp.npm_packages, "scripts": lp.install_scripts }))
    } else {
        ("pypi", json!({ "dists": lp.pypi_dists, "python": lp.python }))
    };
    let key = tree::sha256_hex(resolution.to_string().as_bytes());
    cache.join(eco).join(&key[..32])
}

/// The tree that is hashed and mounted: `node_modules` or `site`.
pub(super) fn tree_root(dir: &Path, eco: Ecosystem) -> PathBuf {
    dir.join(match eco {
        Ecosystem::Npm => "node_modules",
        Ecosystem::Pypi => "site",
    })
}

/// The cache's index entry for an exact request (`npm:name@1.2.3`): the pin of its install.
pub(super) fn index_path(cache: &Path, exact: &str, scripts: bool) -> PathBuf {
    let key = tree::sha256_hex(format!("{exact}\0{scripts}").as_bytes());
    cache.join("index").join(format!("{}.json", &key[..32]))
}

/// Record a verified install in the cache's index, so that another profile asking for exactly
/// this version pins it without installing it again.
pub(super) fn write_index(cache: &Path, pkg: &PackageRef, lp: &LockedPackage) -> Result<(), PackageError> {
    let exact = match &pkg.version {
        PackageVersion::File(_) => pkg.to_string(),
        _ => PackageRef { version: PackageVersion::Exact(lp.version.clone()), ..pkg.clone() }.to_string(),
    };
    let index = index_path(cache, &exact, lp.install_scripts);
    if index.is_file() {
        return Ok(());
    }
    if let Some(parent) = index.parent() {
        std::fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    }
    let record = serde_json::to_string_pretty(lp).unwrap_or_default();
    std::fs::write(&index, record).map_err(io(format!("writing {}", index.display())))
}

pub(super) fn stamp_path(dir: &Path) -> PathBuf {
    dir.with_extension("stamp")
}

fn files_path(dir: &Path) -> PathBuf {
    dir.with_extension("files")
}

/// Record that the tree (as it is now) hashes to `tree_sha256`.
pub(super) fn write_stamp(dir: &Path, tree_sha256: &str) -> Result<(), PackageError> {
    let root = if dir.join("node_modules").is_dir() { dir.join("node_modules") } else { dir.join("site") };
    let stat = tree::stat_digest(&root).map_err(io(format!("reading {}", root.display())))?;
    let path = stamp_path(dir);
    std::fs::write(&path, format!("{tree_sha256} {stat}\n")).map_err(io(format!("writing {}", path.display())))
}

/// The first file whose content differs from the one recorded at install, or that was added
/// or removed (for the error message; the verdict is the tree hash).
pub(super) fn first_difference(dir: &Path, now: &[(PathBuf, String)]) -> Option<PathBuf> {
    let root = if dir.join("node_modules").is_dir() { dir.join("node_modules") } else { dir.join("site") };
    let text = std::fs::read_to_string(files_path(dir)).ok()?;
    let then: std::collections::BTreeMap<&str, &str> =
        text.lines().filter_map(|l| l.split_once('\t')).map(|(h, p)| (p, h)).collect();
    for (rel, hash) in now {
        if then.get(rel.to_str()?) != Some(&hash.as_str()) {
            return Some(root.join(rel));
        }
    }
    let now_paths: std::collections::BTreeSet<&str> = now.iter().filter_map(|(p, _)| p.to_str()).collect();
    then.keys().find(|p| !now_paths.contains(*p)).map(|p| root.join(p))
}

/// A staging directory under the cache's `tmp/`, removed on drop unless kept.
struct Staging {
    path: PathBuf,
}

impl Staging {
    fn new(cache: &Path) -> Result<Staging, PackageError> {
        let tmp = cache.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(io(format!("creating {}", tmp.display())))?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = tmp.join(format!("{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path).map_err(io(format!("creating {}", path.display())))?;
        Ok(Staging { path })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Install `pkg` (from the lockfile's pin when given) into the cache; returns the pin.
pub(super) fn install(
    pkg: &PackageRef,
    locked: Option<&LockedPackage>,
    scripts: bool,
    dirs: &Dirs,
    progress: &mut dyn FnMut(&str),
) -> Result<LockedPackage, PackageError> {
    let staging = Staging::new(&dirs.cache)?;
    let mut lp = match pkg.ecosystem {
        Ecosystem::Npm => npm_install(pkg, locked, scripts, &staging.path, dirs, progress)?,
        Ecosystem::Pypi => pip_install(pkg, locked, &staging.path, dirs, progress)?,
    };
    let root = tree_root(&staging.path, pkg.ecosystem);
    let (tree_sha256, files) = tree::tree_sha256(&root).map_err(io(format!("hashing {}", root.display())))?;
    lp.tree_sha256 = tree_sha256;
    let dir = dir_for(&dirs.cache, &lp);
    let parent = dir.parent().unwrap_or(&dirs.cache);
    std::fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    let listing: String = files.iter().map(|(p, h)| format!("{h}\t{}\n", p.display())).collect();
    if std::fs::rename(&staging.path, &dir).is_err() && dir.exists() {
        // The same resolution is already there (another mcpcell installed it at the same time,
        // or another profile pinned it): keep it if it is the same tree, else replace it.
        let existing = tree::tree_sha256(&tree_root(&dir, pkg.ecosystem)).map(|(h, _)| h).ok();
        if existing.as_deref() != Some(lp.tree_sha256.as_str()) {
            std::fs::remove_dir_all(&dir).map_err(io(format!("replacing {}", dir.display())))?;
            std::fs::rename(&staging.path, &dir).map_err(io(format!("moving the install into {}", dir.display())))?;
        }
    } else if !dir.exists() {
        return Err(PackageError::Install {
            package: pkg.to_string(),
            detail: format!("could not move the install into {}", dir.display()),
        });
    }
    std::fs::write(files_path(&dir), listing).map_err(io(format!("writing {}", files_path(&dir).display())))?;
    write_stamp(&dir, &lp.tree_sha256)?;
    write_index(&dirs.cache, pkg, &lp)?;
    progress(&format!("{pkg}: installed {} in {}", lp.version, dir.display()));
    Ok(lp)
}

/// Run an installer step with its output on our stderr (stdout belongs to the MCP protocol).
fn run_step(pkg: &PackageRef, what: &str, cmd: &mut Command) -> Result<(), PackageError> {
    let stderr = std::io::stderr();
    let out = std::os::fd::AsFd::as_fd(&stderr).try_clone_to_owned().map_err(io("duplicating stderr"))?;
    let status = cmd.stdin(Stdio::null()).stdout(Stdio::from(out)).status().map_err(|e| PackageError::Install {
        package: pkg.to_string(),
        detail: format!("{what}: cannot start it: {e}"),
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(PackageError::Install {
            package: pkg.to_string(),
            detail: format!("{what} failed ({status}); see its output above"),
        })
    }
}

fn capture(pkg: &PackageRef, what: &str, cmd: &mut Command) -> Result<String, PackageError> {
    let out = cmd.stdin(Stdio::null()).stderr(Stdio::inherit()).output().map_err(|e| PackageError::Install {
        package: pkg.to_string(),
        detail: format!("{what}: cannot start it: {e}"),
    })?;
    if !out.status.success() {
        return Err(PackageError::Install {
            package: pkg.to_string(),
            detail: format!("{what} failed ({})", out.status),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn npm_cmd(npm: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new(npm);
    cmd.current_dir(cwd).args(["--no-audit", "--no-fund", "--no-update-notifier"]);
    cmd
}

fn npm_install(
    pkg: &PackageRef,
    locked: Option<&LockedPackage>,
    scripts: bool,
    staging: &Path,
    dirs: &Dirs,
    progress: &mut dyn FnMut(&str),
) -> Result<LockedPackage, PackageError> {
    let fail = |detail: String| PackageError::Install { package: pkg.to_string(), detail };
    let npm = super::interpreter("npm", &dirs.path_env)
        .map_err(|e| fail(format!("npm is needed to install npm packages: {e}")))?;
    let write = |name: &str, v: &Value| {
        let path = staging.join(name);
        std::fs::write(&path, format!("{v:#}\n")).map_err(io(format!("writing {}", path.display())))
    };
    if let Some(lp) = locked {
        let packages = lp.npm_packages.clone().ok_or_else(|| {
            fail("the lockfile's package pin has no npm_packages; delete its \"package\" entry to re-resolve".into())
        })?;
        let deps = packages.get("").and_then(|r| r.get("dependencies")).cloned().unwrap_or(json!({}));
        write(
            "package.json",
            &json!({ "name": "mcpcell-package", "version": "0.0.0", "private": true, "dependencies": deps }),
        )?;
        write(
            "package-lock.json",
            &json!({ "name": "mcpcell-package", "version": "0.0.0", "lockfileVersion": 3, "requires": true, "packages": packages }),
        )?;
        progress(&format!(
            "{pkg}: npm ci --ignore-scripts (every download is checked against the lockfile's integrity)"
        ));
        run_step(pkg, "npm ci", npm_cmd(&npm, staging).args(["ci", "--ignore-scripts", "--omit=dev"]))?;
    } else {
        let spec = match &pkg.version {
            PackageVersion::Exact(v) => v.clone(),
            PackageVersion::File(p) => format!("file:{}", p.display()),
            PackageVersion::Latest => {
                progress(&format!("{pkg}: resolving the latest version"));
                let v = capture(
                    pkg,
                    "npm view",
                    npm_cmd(&npm, staging).args(["view", &format!("{}@latest", pkg.name), "version"]),
                )?;
                if v.is_empty() || v.contains(char::is_whitespace) {
                    return Err(fail(format!("npm view printed no single version ({v:?})")));
                }
                v
            }
        };
        write(
            "package.json",
            &json!({ "name": "mcpcell-package", "version": "0.0.0", "private": true, "dependencies": { &pkg.name: spec } }),
        )?;
        progress(&format!("{pkg}: npm install --ignore-scripts {}@{spec}", pkg.name));
        run_step(pkg, "npm install", npm_cmd(&npm, staging).args(["install", "--ignore-scripts", "--omit=dev"]))?;
    }
    // npm's own cache of the tree: not needed to run, and it varies between npm versions.
    let _ = std::fs::remove_file(staging.join("node_modules/.package-lock.json"));
    let lock_path = staging.join("package-lock.json");
    let text = std::fs::read_to_string(&lock_path).map_err(io(format!("reading {}", lock_path.display())))?;
    let lock: Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("npm wrote an unreadable package-lock.json: {e}")))?;
    let packages: Map<String, Value> = lock
        .get("packages")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| fail("package-lock.json has no \"packages\" (npm 7 or newer is needed)".into()))?;
    let top = packages
        .get(&format!("node_modules/{}", pkg.name))
        .ok_or_else(|| fail("the package is missing from package-lock.json".into()))?;
    let version = top.get("version").and_then(Value::as_str).unwrap_or_default().to_string();
    if let PackageVersion::Exact(want) = &pkg.version {
        if &version != want {
            return Err(fail(format!("npm installed version {version}, not {want}")));
        }
    }
    if let Some(lp) = locked {
        if lp.version != version {
            return Err(fail(format!("npm installed version {version}, the lockfile pins {}", lp.version)));
        }
    }
    let integrity = top.get("integrity").and_then(Value::as_str).map(str::to_string);
    let integrity = match integrity {
        Some(i) => i,
        None => return Err(fail("npm recorded no integrity for the package; refusing an unverifiable install".into())),
    };
    if let Some((path, _)) = packages
        .iter()
        .find(|(path, entry)| !path.is_empty() && entry.get("link").is_none() && entry.get("integrity").is_none())
    {
        return Err(fail(format!("npm recorded no integrity for {path}; refusing an unverifiable install")));
    }
    if scripts {
        run_scripts_in_cell(pkg, &npm, staging, progress)?;
    }
    let entry = npm_entry(pkg, &staging.join("node_modules").join(&pkg.name))?;
    Ok(LockedPackage {
        source: pkg.key(),
        requested: locked.map_or_else(|| pkg.to_string(), |lp| lp.requested.clone()),
        version,
        integrity,
        entry,
        python: None,
        install_scripts: scripts,
        tree_sha256: String::new(),
        npm_packages: Some(packages),
        pypi_dists: None,
    })
}

/// The `bin` of the package: the only one, or the one named like the package.
fn npm_entry(pkg: &PackageRef, dir: &Path) -> Result<LockedEntry, PackageError> {
    let fail = |detail: String| PackageError::Install { package: pkg.to_string(), detail };
    let path = dir.join("package.json");
    let text = std::fs::read_to_string(&path).map_err(io(format!("reading {}", path.display())))?;
    let meta: Value = serde_json::from_str(&text).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    let base = pkg.name.rsplit('/').next().unwrap_or(&pkg.name).to_string();
    let bins: Vec<(String, String)> = match meta.get("bin") {
        Some(Value::String(s)) => vec![(base.clone(), s.clone())],
        Some(Value::Object(m)) => m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect(),
        _ => Vec::new(),
    };
    let chosen = match bins.len() {
        0 => return Err(fail("its package.json declares no \"bin\": it is not a command-line MCP server".into())),
        1 => bins[0].clone(),
        _ => bins.iter().find(|(name, _)| *name == base).cloned().ok_or_else(|| {
            let names: Vec<&str> = bins.iter().map(|(n, _)| n.as_str()).collect();
            fail(format!("it declares several commands ({}) and none is named {base}; choosing between them is not supported yet", names.join(", ")))
        })?,
    };
    let target = crate::plan::resolve::normalize(&Path::new("/").join(&chosen.1));
    let rel = target.strip_prefix("/").unwrap_or(&target).to_path_buf();
    if !dir.join(&rel).is_file() {
        return Err(fail(format!("its bin {} points at {}, which is not a file", chosen.0, rel.display())));
    }
    Ok(LockedEntry { name: chosen.0, target: rel.display().to_string() })
}

/// `npm rebuild` (which runs the packages' install scripts) inside a cell: the staging
/// directory is the only writable host path, and there is no network.
fn run_scripts_in_cell(
    pkg: &PackageRef,
    npm: &Path,
    staging: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(), PackageError> {
    let fail = |detail: String| PackageError::Install { package: pkg.to_string(), detail };
    progress(&format!("{pkg}: running install scripts in a cell (no network; only {} writable)", staging.display()));
    let mut profile = mcpcell_profiles::Profile {
        name: "install-scripts".into(),
        origin: mcpcell_profiles::Origin::AdHoc,
        extends: Vec::new(),
        description: None,
        server: mcpcell_profiles::Server::default(),
        filesystem: mcpcell_profiles::Filesystem::default(),
        network: mcpcell_profiles::Network::default(),
        secrets: Vec::new(),
        limits: mcpcell_profiles::Limits::default(),
        sandbox: mcpcell_profiles::Sandbox::default(),
        tools: mcpcell_profiles::ToolPolicy::default(),
        audit: mcpcell_profiles::Audit::default(),
    };
    profile.server.command = npm.display().to_string();
    profile.server.args = ["rebuild", "--foreground-scripts", "--no-audit", "--no-fund", "--no-update-notifier"]
        .map(String::from)
        .to_vec();
    profile.server.cwd = Some(staging.to_path_buf());
    profile.server.env.insert("npm_config_cache".into(), "/tmp/npm-cache".into());
    profile.server.env.insert("npm_config_offline".into(), "true".into());
    profile.filesystem.write.push(mcpcell_profiles::PathGrant { path: staging.to_path_buf(), optional: false });
    if let Some(m) = super::interpreter_mount(npm) {
        profile.filesystem.read.push(mcpcell_profiles::PathGrant { path: m, optional: false });
    }
    let plan = crate::launch::prepare(&profile).map_err(|e| fail(format!("planning the install-scripts cell: {e}")))?;
    let devnull = std::fs::File::open("/dev/null").map_err(io("opening /dev/null"))?;
    let stdio = crate::jail::Stdio { fds: Some([std::os::fd::AsRawFd::as_raw_fd(&devnull), 2, 2]) };
    let cell =
        crate::launch::start(&plan, stdio).map_err(|e| fail(format!("starting the install-scripts cell: {e}")))?;
    let code = loop {
        match nix::sys::wait::waitpid(cell.init, None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => break c,
            Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => break 128 + s as i32,
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(fail(format!("waiting for the install-scripts cell: {e}"))),
        }
    };
    drop(cell);
    if code != 0 {
        return Err(fail(format!("the install scripts failed in their cell (exit {code}); see their output above")));
    }
    Ok(())
}

/// The Python that installs and runs PyPI packages: `$MCPCELL_PYTHON`, else `/usr/bin/python3`
/// (visible in every cell), else `python3` from PATH.
fn python(dirs: &Dirs) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("MCPCELL_PYTHON") {
        return std::fs::canonicalize(&p).map_err(|e| format!("MCPCELL_PYTHON={}: {e}", PathBuf::from(p).display()));
    }
    if Path::new("/usr/bin/python3").is_file() {
        return std::fs::canonicalize("/usr/bin/python3").map_err(|e| format!("/usr/bin/python3: {e}"));
    }
    super::interpreter("python3", &dirs.path_env)
}

/// `3.11` from `python3.11`, else by asking the interpreter.
fn python_version(python: &Path) -> Result<String, String> {
    if let Some(v) = python.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("python")) {
        if v.split('.').count() == 2 && v.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) {
            return Ok(v.to_string());
        }
    }
    let out = Command::new(python)
        .args(["-I", "-S", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn pip_install(
    pkg: &PackageRef,
    locked: Option<&LockedPackage>,
    staging: &Path,
    dirs: &Dirs,
    progress: &mut dyn FnMut(&str),
) -> Result<LockedPackage, PackageError> {
    let fail = |detail: String| PackageError::Install { package: pkg.to_string(), detail };
    let python = python(dirs).map_err(|e| fail(format!("python3 is needed to install PyPI packages: {e}")))?;
    let pyver = python_version(&python).map_err(fail)?;
    if let Some(want) = locked.and_then(|lp| lp.python.as_deref()) {
        if want != pyver {
            return Err(fail(format!("the lockfile pins wheels for Python {want}, but {} is Python {pyver}; set MCPCELL_PYTHON to a Python {want}, or delete the lockfile's \"package\" entry to re-resolve", python.display())));
        }
    }
    // A throwaway venv only to have a pip; the package goes to `site` with --target.
    progress(&format!("{pkg}: creating an installer venv with {}", python.display()));
    run_step(pkg, "python3 -m venv", Command::new(&python).args(["-m", "venv"]).arg(staging.join("venv")))?;
    let pip = staging.join("venv/bin/python");
    let site = staging.join("site");
    let report = staging.join("report.json");
    let mut cmd = Command::new(&pip);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-compile",
        "--only-binary=:all:",
    ])
    .arg("--target")
    .arg(&site)
    .arg("--report")
    .arg(&report);
    if let Some(lp) = locked {
        let dists = lp.pypi_dists.as_ref().ok_or_else(|| {
            fail("the lockfile's package pin has no pypi_dists; delete its \"package\" entry to re-resolve".into())
        })?;
        let req: String =
            dists.iter().map(|d| format!("{}=={} --hash=sha256:{}\n", d.name, d.version, d.sha256)).collect();
        let req_path = staging.join("requirements.txt");
        std::fs::write(&req_path, req).map_err(io(format!("writing {}", req_path.display())))?;
        cmd.args(["--no-deps", "--require-hashes", "-r"]).arg(&req_path);
        progress(&format!("{pkg}: pip install --require-hashes ({} distributions from the lockfile)", dists.len()));
    } else {
        let spec = match &pkg.version {
            PackageVersion::Exact(v) => format!("{}=={v}", pkg.name),
            _ => pkg.name.clone(),
        };
        cmd.arg(&spec);
        progress(&format!("{pkg}: pip install --only-binary=:all: {spec}"));
    }
    run_step(pkg, "pip install", &mut cmd)?;
    let _ = std::fs::remove_dir_all(staging.join("venv"));
    // Console scripts with this host's shebangs: not used (the entry point is run directly).
    let _ = std::fs::remove_dir_all(site.join("bin"));
    let text = std::fs::read_to_string(&report).map_err(io(format!("reading {}", report.display())))?;
    let _ = std::fs::remove_file(&report);
    let _ = std::fs::remove_file(staging.join("requirements.txt"));
    let report: Value = serde_json::from_str(&text).map_err(|e| fail(format!("pip's --report is unreadable: {e}")))?;
    let mut dists = Vec::new();
    for item in report.get("install").and_then(Value::as_array).into_iter().flatten() {
        let name = item.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let version = item.pointer("/metadata/version").and_then(Value::as_str).unwrap_or_default();
        let info = item.get("download_info");
        let sha = info
            .and_then(|i| i.pointer("/archive_info/hashes/sha256"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                info.and_then(|i| i.pointer("/archive_info/hash"))
                    .and_then(Value::as_str)
                    .and_then(|h| h.strip_prefix("sha256="))
                    .map(str::to_string)
            });
        let Some(sha256) = sha else {
            return Err(fail(format!("pip reported no sha256 for {name} {version}; refusing an unverifiable install")));
        };
        let url = info.and_then(|i| i.get("url")).and_then(Value::as_str).map(str::to_string);
        dists.push(LockedDist {
            name: mcpcell_profiles::normalize_pypi(name),
            version: version.to_string(),
            sha256,
            url,
        });
    }
    dists.sort_by(|a, b| a.name.cmp(&b.name));
    let top = dists
        .iter()
        .find(|d| d.name == pkg.name)
        .ok_or_else(|| fail("pip did not install the package itself".into()))?;
    if let PackageVersion::Exact(want) = &pkg.version {
        if &top.version != want {
            return Err(fail(format!("pip installed version {}, not {want}", top.version)));
        }
    }
    let entry = python_entry(pkg, &site)?;
    Ok(LockedPackage {
        source: pkg.key(),
        requested: locked.map_or_else(|| pkg.to_string(), |lp| lp.requested.clone()),
        version: top.version.clone(),
        integrity: format!("sha256:{}", top.sha256),
        entry,
        python: Some(pyver),
        install_scripts: false,
        tree_sha256: String::new(),
        npm_packages: None,
        pypi_dists: Some(dists),
    })
}

/// The console script of the package: the only one, or the one named like the package.
fn python_entry(pkg: &PackageRef, site: &Path) -> Result<LockedEntry, PackageError> {
    let fail = |detail: String| PackageError::Install { package: pkg.to_string(), detail };
    let mut found = None;
    for e in std::fs::read_dir(site).map_err(io(format!("reading {}", site.display())))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".dist-info") else { continue };
        let dist = stem.rsplit_once('-').map_or(stem, |(n, _)| n);
        if mcpcell_profiles::normalize_pypi(dist) == pkg.name {
            found = Some(e.path());
        }
    }
    let info = found.ok_or_else(|| fail(format!("no {}-*.dist-info in {}", pkg.name, site.display())))?;
    let text = std::fs::read_to_string(info.join("entry_points.txt")).unwrap_or_default();
    let mut in_scripts = false;
    let mut scripts = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_scripts = line == "[console_scripts]";
        } else if in_scripts {
            if let Some((name, target)) = line.split_once('=') {
                let target = target.split('[').next().unwrap_or("").trim();
                scripts.push((name.trim().to_string(), target.to_string()));
            }
        }
    }
    let chosen = match scripts.len() {
        0 => return Err(fail("it declares no console_scripts entry point: it is not a command-line MCP server".into())),
        1 => scripts.remove(0),
        _ => scripts.iter().find(|(n, _)| mcpcell_profiles::normalize_pypi(n) == pkg.name).cloned().ok_or_else(|| {
            let names: Vec<&str> = scripts.iter().map(|(n, _)| n.as_str()).collect();
            fail(format!("it declares several console scripts ({}) and none is named {}; choosing between them is not supported yet", names.join(", "), pkg.name))
        })?,
    };
    let ok = |s: &str| {
        !s.is_empty() && s.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    };
    match chosen.1.split_once(':') {
        Some((module, attr)) if ok(module) && ok(attr.trim()) => {}
        _ => {
            return Err(fail(format!(
                "console script {} has an entry point \"{}\" that is not module:function",
                chosen.0, chosen.1
            )))
        }
    }
    Ok(LockedEntry { name: chosen.0, target: chosen.1.replace(' ', "") })
}

/// How the cell runs the installed package.
pub(super) struct Runtime {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The interpreter's prefix, when it is outside the system directories.
    pub mount: Option<PathBuf>,
}

pub(super) fn runtime(
    pkg: &PackageRef,
    lp: &LockedPackage,
    tree: &Path,
    path_env: &str,
) -> Result<Runtime, PackageError> {
    let fail = |detail: String| PackageError::Unsupported { package: pkg.to_string(), detail };
    match pkg.ecosystem {
        Ecosystem::Npm => {
            let node = super::interpreter("node", path_env)
                .map_err(|e| fail(format!("node is needed to run npm packages: {e}")))?;
            let script = tree.join(&pkg.name).join(&lp.entry.target);
            Ok(Runtime {
                mount: super::interpreter_mount(&node),
                program: node,
                args: vec![script.display().to_string()],
            })
        }
        Ecosystem::Pypi => {
            let dirs = Dirs { cache: PathBuf::new(), lock_path: PathBuf::new(), path_env: path_env.to_string() };
            let python = python(&dirs).map_err(|e| fail(format!("python3 is needed to run PyPI packages: {e}")))?;
            let have = python_version(&python).map_err(fail)?;
            if let Some(want) = &lp.python {
                if *want != have {
                    return Err(fail(format!(
                        "installed for Python {want}, but {} is Python {have}; set MCPCELL_PYTHON to a Python {want}",
                        python.display()
                    )));
                }
            }
            let (module, attr) = lp
                .entry
                .target
                .split_once(':')
                .ok_or_else(|| fail(format!("entry point {} is not module:function", lp.entry.target)))?;
            let attrs: Vec<&str> = attr.split('.').collect();
            let q = |s: &str| Value::String(s.to_string()).to_string();
            // -I: ignore PYTHON* variables and the user site; -S: no site-packages of the host's
            // Python (they could shadow the pinned distributions); the tree is added explicitly.
            let bootstrap = format!(
                "import sys,site,importlib,functools;site.addsitedir({});sys.argv[0]={};sys.exit(functools.reduce(getattr,{},importlib.import_module({}))())",
                q(&tree.display().to_string()),
                q(&lp.entry.name),
                Value::from(attrs),
                q(module)
            );
            Ok(Runtime {
                mount: super::interpreter_mount(&python),
                program: python,
                args: vec!["-I".into(), "-S".into(), "-c".into(), bootstrap],
            })
        }
    }
}
