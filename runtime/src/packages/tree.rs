//! The installed tree's identity: a SHA-256 over every entry (path, type, executable bit, file
//! content, link target), and a cheap "unchanged since it was hashed" check from file metadata.

use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One entry of a walk, relative to the root.
struct Entry {
    rel: PathBuf,
    meta: fs::Metadata,
}

/// Every entry under `root` (not `root` itself), sorted by path bytes; symlinks are not followed.
/// The top-level directories are walked on up to 4 threads (all joined before this returns):
/// a package tree has thousands of files, and each needs a `statx`.
fn walk(root: &Path) -> std::io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut dirs = Vec::new();
    walk_dir(root, PathBuf::new(), &mut out, &mut dirs)?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    if threads > 1 && dirs.len() >= 8 {
        let mut shares: Vec<Vec<PathBuf>> = vec![Vec::new(); threads];
        for (i, d) in dirs.into_iter().enumerate() {
            shares[i % threads].push(d);
        }
        let results: Vec<std::io::Result<Vec<Entry>>> = std::thread::scope(|s| {
            let handles: Vec<_> = shares.into_iter().map(|share| s.spawn(move || walk_all(root, share))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(std::io::Error::other("a tree walker thread panicked"))))
                .collect()
        });
        for r in results {
            out.extend(r?);
        }
    } else {
        out.extend(walk_all(root, dirs)?);
    }
    out.sort_by(|a, b| a.rel.as_os_str().as_bytes().cmp(b.rel.as_os_str().as_bytes()));
    Ok(out)
}

/// Every entry under each of `starts` (relative to `root`), recursively.
fn walk_all(root: &Path, mut stack: Vec<PathBuf>) -> std::io::Result<Vec<Entry>> {
    let mut out = Vec::new();
    while let Some(rel) = stack.pop() {
        walk_dir(root, rel, &mut out, &mut stack)?;
    }
    Ok(out)
}

/// The entries of one directory; its subdirectories are pushed on `dirs`.
fn walk_dir(root: &Path, rel: PathBuf, out: &mut Vec<Entry>, dirs: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in fs::read_dir(root.join(&rel))? {
        let e = e?;
        let rel = rel.join(e.file_name());
        // Relative to the open directory (fstatat), not a walk of the whole path; does not
        // follow symlinks.
        let meta = e.metadata()?;
        if meta.is_dir() {
            dirs.push(rel.clone());
        }
        out.push(Entry { rel, meta });
    }
    Ok(())
}

/// The tree hash of `root`, and per file the content hash (for naming what differs).
pub fn tree_sha256(root: &Path) -> std::io::Result<(String, Vec<(PathBuf, String)>)> {
    let mut tree = Sha256::new();
    let mut files = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    for e in walk(root)? {
        let rel = e.rel.as_os_str().as_bytes();
        let ft = e.meta.file_type();
        if ft.is_dir() {
            tree.update(b"d ");
            tree.update(rel);
            tree.update(b"\n");
        } else if ft.is_symlink() {
            let target = fs::read_link(root.join(&e.rel))?;
            tree.update(b"l ");
            tree.update(rel);
            tree.update(b"\0");
            tree.update(target.as_os_str().as_bytes());
            tree.update(b"\n");
        } else if ft.is_file() {
            let mut h = Sha256::new();
            let mut f = fs::File::open(root.join(&e.rel))?;
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            let hex = hex(&h.finalize());
            tree.update(if e.meta.mode() & 0o111 != 0 { b"x " } else { b"f " });
            tree.update(rel);
            tree.update(b"\0");
            tree.update(hex.as_bytes());
            tree.update(b"\n");
            files.push((e.rel, hex));
        } else {
            // Sockets, fifos and devices have no place in a package.
            return Err(std::io::Error::other(format!("{} is not a file, directory or symlink", e.rel.display())));
        }
    }
    Ok((hex(&tree.finalize()), files))
}

/// A digest of every entry's metadata (path, inode, type and mode, size, mtime, ctime). Any
/// write to a file changes its ctime, which a process cannot set back; so an equal digest means
/// nothing in the tree was modified, added, removed or replaced since the digest was taken.
pub fn stat_digest(root: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let top = fs::symlink_metadata(root)?;
    for m in std::iter::once(top).map(|m| (PathBuf::new(), m)).chain(walk(root)?.into_iter().map(|e| (e.rel, e.meta))) {
        let (rel, meta) = m;
        h.update(rel.as_os_str().as_bytes());
        h.update(b"\0");
        for n in [
            meta.dev(),
            meta.ino(),
            u64::from(meta.mode()),
            meta.size(),
            meta.mtime() as u64,
            meta.mtime_nsec() as u64,
            meta.ctime() as u64,
            meta.ctime_nsec() as u64,
        ] {
            h.update(n.to_le_bytes());
        }
    }
    Ok(hex(&h.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mcpcell-tree-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(d.join("a/b")).unwrap();
        fs::write(d.join("a/b/f.js"), "x").unwrap();
        fs::write(d.join("top"), "y").unwrap();
        std::os::unix::fs::symlink("a/b/f.js", d.join("link")).unwrap();
        d
    }

    #[test]
    fn tree_hash_sees_content_links_and_exec_bits() {
        let d = scratch("hash");
        let (base, files) = tree_sha256(&d).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(tree_sha256(&d).unwrap().0, base, "stable");
        fs::write(d.join("a/b/f.js"), "z").unwrap();
        let changed = tree_sha256(&d).unwrap().0;
        assert_ne!(changed, base);
        fs::write(d.join("a/b/f.js"), "x").unwrap();
        assert_eq!(tree_sha256(&d).unwrap().0, base, "content restored");
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(d.join("top"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(tree_sha256(&d).unwrap().0, base, "exec bit counts");
        fs::set_permissions(d.join("top"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::remove_file(d.join("link")).unwrap();
        std::os::unix::fs::symlink("top", d.join("link")).unwrap();
        assert_ne!(tree_sha256(&d).unwrap().0, base, "link target counts");
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stat_digest_changes_on_any_write() {
        let d = scratch("stat");
        let before = stat_digest(&d).unwrap();
        assert_eq!(stat_digest(&d).unwrap(), before);
        // Same content, rewritten: ctime moves.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(d.join("top"), "y").unwrap();
        assert_ne!(stat_digest(&d).unwrap(), before);
        fs::remove_dir_all(&d).unwrap();
    }
}
