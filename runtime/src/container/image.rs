//! Local images for the container backend, built with no registry: the root filesystem is
//! assembled from this host (its layout, and for runtime images the runtime's files and their
//! shared libraries) and imported into the engine (`POST /images/create?fromSrc=-`, what
//! `docker import` does). Nothing is ever pulled.
//!
//! - `base`: mount points and the host's top-level symlinks only. The cell's runtime comes
//!   from the host's system trees, bound read-only exactly as in the jail, so a profile works
//!   unchanged on either backend. Built on first use.
//! - `static`: base plus TLS roots, for static binaries that bring everything else.
//! - `node`, `python`: base plus the host's interpreter, its library tree and every shared
//!   library it loads — for `[sandbox] image = "mcpcell/node:…"` profiles that must not see
//!   the host's `/usr` at all.
//!
//! Every image also carries the shared libraries of the mcpcell binary, which runs as the
//! container's init (it is bound read-only at run time, never copied).

use bollard::query_parameters::CreateImageOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};

/// The images `mcpcell image build` knows.
pub const KINDS: &[(&str, &str)] = &[
    ("base", "mount points only; the host's system trees are bound read-only at run time (default)"),
    ("static", "base + TLS roots and the C library, for static binaries"),
    ("node", "base + the host's node and the libraries it loads"),
    ("python", "base + the host's /usr/bin/python3, its standard library, the libraries it loads, and uv"),
];

/// The reference of image `kind` for this version of mcpcell.
pub fn reference(kind: &str) -> String {
    format!("mcpcell/{kind}:{}-{LAYOUT}", env!("CARGO_PKG_VERSION"))
}

/// Directories every image has. Only these: the engine creates other mount points itself, and
/// a tmpfs mounted on a directory the image has takes that directory's mode (a private
/// `$HOME` must stay 0700).
const MOUNT_POINTS: &[&str] = &["dev", "proc", "sys", "etc", "tmp", "usr", ".mcpcell"];

/// Bumped whenever what goes into an image changes, so a stale image is never used.
const LAYOUT: u32 = 3;

/// What goes into an image, computed from the host (files are read when the tar is written).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RootfsPlan {
    pub dirs: Vec<PathBuf>,
    pub symlinks: Vec<(PathBuf, PathBuf)>,
    /// Host paths copied at the same path (directories recursively).
    pub copies: Vec<PathBuf>,
    /// Host files copied to another path in the image (source, destination).
    pub placed: Vec<(PathBuf, PathBuf)>,
}

/// Choices for `plan_rootfs`.
#[derive(Debug, Default, Clone)]
pub struct BuildOptions {
    /// The `uv` binary for the python image (default: `uv` on PATH; none: built without uv).
    pub uv: Option<PathBuf>,
}

/// Plan the root filesystem of `kind` from this host.
pub fn plan_rootfs(kind: &str, options: &BuildOptions) -> Result<RootfsPlan, String> {
    let mut plan = RootfsPlan { dirs: MOUNT_POINTS.iter().map(PathBuf::from).collect(), ..Default::default() };
    // The host's merged-/usr symlinks (/bin -> usr/bin, ...): the bound trees need them.
    let root = std::fs::read_dir("/").map_err(|e| format!("listing /: {e}"))?;
    for entry in root.flatten() {
        let path = entry.path();
        if let Ok(target) = std::fs::read_link(&path) {
            if !target.is_absolute() && target.starts_with("usr") {
                plan.symlinks.push((path.strip_prefix("/").unwrap_or(&path).to_path_buf(), target));
            }
        }
    }
    plan.symlinks.sort();
    let exe = std::env::current_exe().map_err(|e| format!("locating the mcpcell binary: {e}"))?;
    let mut binaries = vec![exe];
    match kind {
        "base" => {}
        "static" => plan.copies.extend(existing(&["/etc/ssl/certs", "/usr/share/ca-certificates"])),
        "node" => {
            let node = which("node").ok_or("node is not installed on this host (PATH); install nodejs first")?;
            binaries.push(node.clone());
            plan.copies.push(node);
            plan.copies.extend(existing(&["/etc/ssl/certs", "/usr/share/ca-certificates", "/usr/share/nodejs"]));
        }
        "python" => {
            let python = PathBuf::from("/usr/bin/python3");
            let real = std::fs::canonicalize(&python)
                .map_err(|e| format!("{}: {e}; install python3 from the distribution first", python.display()))?;
            let version = real.file_name().and_then(|n| n.to_str()).unwrap_or("python3").to_string();
            binaries.push(real.clone());
            plan.copies.push(real.clone());
            plan.symlinks.push(("usr/bin/python3".into(), version.clone().into()));
            plan.copies.extend(existing(&[
                &format!("/usr/lib/{version}"),
                "/etc/ssl/certs",
                "/usr/share/ca-certificates",
            ]));
            // uv (a static binary) and its uvx, at /usr/bin.
            if let Some(uv) = options.uv.clone().or_else(|| which("uv")) {
                if !uv.is_file() {
                    return Err(format!("{}: no such uv binary", uv.display()));
                }
                plan.placed.push((uv.clone(), "usr/bin/uv".into()));
                let uvx = uv.with_file_name("uvx");
                if uvx.is_file() {
                    plan.placed.push((uvx, "usr/bin/uvx".into()));
                }
            }
            // Extension modules load libraries of their own (_ssl: libssl, libcrypto).
            let dynload = PathBuf::from(format!("/usr/lib/{version}/lib-dynload"));
            if let Ok(rd) = std::fs::read_dir(&dynload) {
                binaries.extend(rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "so")));
            }
        }
        other => {
            let known: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
            return Err(format!("unknown image {other:?}; mcpcell builds: {}", known.join(", ")));
        }
    }
    if kind != "base" {
        // All of the C library (libpthread, librt, libnss_*...): native modules a runtime loads
        // later need more of it than the interpreter does.
        for lib in package_libraries("libc6") {
            if !plan.copies.contains(&lib) {
                plan.copies.push(lib);
            }
        }
    }
    for bin in &binaries {
        for lib in shared_libraries(bin)? {
            if !plan.copies.contains(&lib) {
                plan.copies.push(lib);
            }
        }
    }
    Ok(plan)
}

/// The shared objects a Debian package installed (none where dpkg is absent), each under its
/// real directory.
fn package_libraries(package: &str) -> Vec<PathBuf> {
    let Ok(out) = std::process::Command::new("dpkg").args(["-L", package]).output() else { return Vec::new() };
    let mut libs = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let path = Path::new(line);
        let is_so = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains(".so"));
        if !is_so || !path.exists() {
            continue;
        }
        if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
            if let Ok(dir) = std::fs::canonicalize(dir) {
                let here = dir.join(name);
                if !libs.contains(&here) {
                    libs.push(here);
                }
            }
        }
    }
    libs
}

fn existing(paths: &[&str]) -> Vec<PathBuf> {
    paths.iter().map(PathBuf::from).filter(|p| p.exists()).collect()
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_else(|_| crate::plan::CELL_PATH.into());
    path.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file())
}

/// The shared libraries `binary` loads (and the dynamic loader), as `ldd` lists them; each
/// as the path it is found at and, when that is a symlink, its target too.
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let out = std::process::Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| format!("running ldd on {}: {e} (install libc-bin)", binary.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() && !text.contains("not a dynamic executable") {
        return Err(format!("ldd {}: {}", binary.display(), String::from_utf8_lossy(&out.stderr).trim()));
    }
    let mut libs = Vec::new();
    for line in text.lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next().filter(|p| p.starts_with('/')),
        };
        let Some(path) = path.filter(|p| p.starts_with('/')) else { continue };
        // Every link on the way (/lib64/ld-linux… is a symlink on Debian), each stored under
        // its real directory (/lib is itself a link to usr/lib).
        let mut path = PathBuf::from(path);
        for _ in 0..8 {
            let dir = path.parent().ok_or_else(|| format!("{}: no parent", path.display()))?;
            let dir = std::fs::canonicalize(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let here = dir.join(path.file_name().unwrap_or_default());
            if !libs.contains(&here) {
                libs.push(here.clone());
            }
            match std::fs::read_link(&here) {
                Ok(target) => path = dir.join(target),
                Err(_) => break,
            }
        }
    }
    Ok(libs)
}

/// Write the planned root filesystem as a tar archive.
pub fn write_tar(plan: &RootfsPlan) -> Result<Vec<u8>, String> {
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    for dir in &plan.dirs {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(if dir == Path::new("tmp") || dir == Path::new("var/tmp") { 0o1777 } else { 0o755 });
        h.set_size(0);
        tar.append_data(&mut h, dir, std::io::empty()).map_err(|e| io("writing a directory", e))?;
    }
    for (link, target) in &plan.symlinks {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        tar.append_link(&mut h, link, target).map_err(|e| io("writing a symlink", e))?;
    }
    for path in &plan.copies {
        let rel = path.strip_prefix("/").unwrap_or(path);
        let meta = std::fs::symlink_metadata(path).map_err(|e| io(&path.display().to_string(), e))?;
        if meta.is_dir() {
            tar.append_dir_all(rel, path).map_err(|e| io(&path.display().to_string(), e))?;
        } else {
            tar.append_path_with_name(path, rel).map_err(|e| io(&path.display().to_string(), e))?;
        }
    }
    for (src, dest) in &plan.placed {
        let mut file = std::fs::File::open(src).map_err(|e| io(&src.display().to_string(), e))?;
        tar.append_file(dest, &mut file).map_err(|e| io(&src.display().to_string(), e))?;
    }
    tar.into_inner().map_err(|e| io("finishing the archive", e))
}

/// Build (import) image `kind`, reporting progress through `progress`. Returns the reference.
pub async fn build(
    docker: &Docker,
    kind: &str,
    options: &BuildOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<String, String> {
    progress(&format!("assembling the {kind} root filesystem from this host"));
    let plan = plan_rootfs(kind, options)?;
    if kind == "python" {
        match plan.placed.iter().find(|(_, d)| d == Path::new("usr/bin/uv")) {
            Some((uv, _)) => progress(&format!("with uv from {}", uv.display())),
            None => progress("without uv (none on PATH: pip install uv, or give --uv PATH)"),
        }
    }
    let tar = write_tar(&plan)?;
    let reference = reference(kind);
    progress(&format!("importing {} MiB as {reference}", tar.len().div_ceil(1 << 20)));
    // The tag inside `repo` (the API allows it on import): Podman ignores a separate `tag`.
    let options = CreateImageOptionsBuilder::new()
        .from_src("-")
        .repo(&reference)
        .changes(vec![format!("LABEL io.mcpcell.image={kind}")])
        .build();
    let mut stream = docker.create_image(Some(options), Some(bollard::body_full(tar.into())), None);
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| format!("importing {reference}: {e}"))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(format!("importing {reference}: {err}"));
        }
        if let Some(status) = info.status.filter(|s| !s.is_empty()) {
            progress(&status);
        }
    }
    progress(&format!("built {reference}"));
    Ok(reference)
}

/// Whether the engine has `reference` locally.
pub async fn exists(docker: &Docker, reference: &str) -> Result<bool, String> {
    match docker.inspect_image(reference).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
        Err(e) => Err(format!("inspecting image {reference}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_has_mount_points_host_symlinks_and_the_init_libraries() {
        let plan = plan_rootfs("base", &BuildOptions::default()).unwrap();
        for d in ["proc", "dev", "tmp", "etc", ".mcpcell"] {
            assert!(plan.dirs.contains(&PathBuf::from(d)), "{d}");
        }
        if std::fs::read_link("/lib64").is_ok() {
            assert!(plan.symlinks.iter().any(|(l, _)| l == Path::new("lib64")));
        }
        assert!(plan.copies.iter().any(|p| p.to_string_lossy().contains("libc.so")), "{:?}", plan.copies);
        let tar = write_tar(&plan).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let names: Vec<String> =
            archive.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect();
        assert!(names.iter().any(|n| n.ends_with("libc.so.6")), "{names:?}");
    }

    #[test]
    fn an_unknown_image_names_the_ones_there_are() {
        let e = plan_rootfs("ruby", &BuildOptions::default()).unwrap_err();
        assert!(e.contains("base, static, node, python"), "{e}");
    }
}
