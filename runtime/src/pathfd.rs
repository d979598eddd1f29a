//! Holding on to a path's file instead of its name: grants are resolved to one (device, inode)
//! on the host, and the bind mount is made from an fd opened without following any symlink
//! and checked against that identity — so a rename or a symlink swapped in between resolution
//! and mount (a TOCTOU race) makes the start fail instead of mounting what the attacker chose.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// A file's identity on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

fn cstr(path: &Path) -> std::io::Result<CString> {
    CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| std::io::ErrorKind::InvalidInput.into())
}

/// `struct open_how` of openat2(2) (libc's is non-exhaustive, so it cannot be built here).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// `openat2(path, O_PATH | O_CLOEXEC, RESOLVE_NO_SYMLINKS)`: fails with ELOOP if any component
/// of `path` (absolute) is a symlink, the last one included.
pub fn open_no_symlinks(path: &Path) -> std::io::Result<OwnedFd> {
    let c = cstr(path)?;
    let how = OpenHow {
        // No O_NOFOLLOW: with it, a trailing symlink would be opened itself instead of refused.
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: libc::RESOLVE_NO_SYMLINKS,
    };
    // SAFETY: `c` is a valid NUL-terminated string and `how` an initialised open_how whose size
    // we pass; the kernel only reads both. A non-negative result is a new fd that we own.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: openat2 returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The identity of an open file, and whether it is a directory.
pub fn identify(fd: &OwnedFd) -> std::io::Result<(FileId, bool)> {
    let st = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(std::io::Error::from)?;
    let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
    Ok((FileId { dev: st.st_dev, ino: st.st_ino }, is_dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("mcpcell-pathfd-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("real/sub")).unwrap();
        std::os::unix::fs::symlink("real", d.join("link")).unwrap();
        d
    }

    #[test]
    fn a_symlink_anywhere_in_the_path_is_refused() {
        let d = scratch("nofollow");
        let real = open_no_symlinks(&d.join("real/sub")).expect("a path without symlinks opens");
        let (id, is_dir) = identify(&real).unwrap();
        assert!(is_dir);
        for through_link in [d.join("link"), d.join("link/sub")] {
            let err = open_no_symlinks(&through_link).expect_err("a symlink in the path is refused");
            assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{}", through_link.display());
        }
        // The identity is the file's: the same through any name, another for another file.
        let again = identify(&open_no_symlinks(&d.join("real/sub")).unwrap()).unwrap().0;
        assert_eq!(id, again);
        let other = identify(&open_no_symlinks(&d.join("real")).unwrap()).unwrap().0;
        assert_ne!(id, other);
        let _ = std::fs::remove_dir_all(&d);
    }
}
