//! mcpcell as most users run it: an unprivileged launcher (here uid/gid 65534 via setpriv).
//! The rest of the suite runs as root (CI does); these tests make sure the jail also builds
//! without any privilege, and that the limits hold where no cgroup can be written (the pids
//! limit then rests on RLIMIT_NPROC, which the kernel counts per user namespace).

mod common;

use common::*;
use std::process::Command;

const NOBODY: u32 = 65534;

/// Re-run a `mcpcell exec` command line as uid/gid 65534 with a home it owns.
fn as_nobody(cmd: &Command, home: &std::path::Path) -> Command {
    let mut wrapped = Command::new("setpriv");
    wrapped
        .arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"))
        .arg("--clear-groups")
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home);
    wrapped
}

fn nobody_home(sc: &Scratch) -> std::path::PathBuf {
    let home = sc.dir("home");
    let c = std::ffi::CString::new(s(&home)).unwrap();
    // SAFETY: chown on a NUL-terminated path we own.
    let rc = unsafe { libc::chown(c.as_ptr(), NOBODY, NOBODY) };
    assert_eq!(rc, 0, "chown of the scratch home failed (the suite runs as root)");
    home
}

/// The scratch and probe directories must be reachable by uid 65534.
fn open_up(path: &std::path::Path) {
    let mut p = path.to_path_buf();
    while p.pop() {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(&p) {
            let mode = meta.permissions().mode();
            if mode & 0o001 == 0 {
                panic!(
                    "{} is not searchable by other users (mode {mode:o}); run the suite from a world-readable checkout",
                    p.display()
                );
            }
        }
    }
}

#[test]
fn an_unprivileged_user_gets_a_working_cell() {
    let sc = Scratch::new("nobody");
    let home = nobody_home(&sc);
    open_up(&probe());
    let out =
        run_cmd(as_nobody(&cell().command(probe(), &["whoami"]), &home), None, std::time::Duration::from_secs(60));
    assert_allowed(&out, "running the probe in a cell as uid 65534");
    let data = out.data().join("\n");
    assert!(data.contains("Uid: 65534 65534 65534 65534"), "the server runs as the invoking uid:{}", out.describe());
    assert!(data.contains("CapEff: 0000000000000000"), "and without capabilities:{}", out.describe());
    assert!(data.contains("uid_map: 65534 65534 1"), "mapping exactly one id:{}", out.describe());
}

#[test]
fn an_unprivileged_users_fork_bomb_is_contained_by_rlimits() {
    let sc = Scratch::new("nobody-fork");
    let home = nobody_home(&sc);
    open_up(&probe());
    let timeout = std::time::Duration::from_secs(60);
    let bomb = cell().flag("--pids", "32").command(probe(), &["fork-bomb", "1000"]);
    let out = run_cmd(as_nobody(&bomb, &home), None, timeout);
    assert_denied(&out, "forking 1000 processes with --pids 32 as an unprivileged user");
    // Control: under the limit, forking works.
    let small = cell().flag("--pids", "32").command(probe(), &["fork-bomb", "8"]);
    assert_allowed(&run_cmd(as_nobody(&small, &home), None, timeout), "forking 8 processes with --pids 32");
}
