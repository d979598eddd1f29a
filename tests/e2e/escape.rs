//! The escape battery: each attack runs as `mcpcell exec -- mcpcell-probe ATTACK` and must be
//! DENIED; next to it stands its positive control, which shows the same probe action succeeding
//! when it is granted (or, for kernel-surface attacks, on the host, where the tests run as root).
//! A control that fails means the test proves nothing, and fails too.

mod common;

use common::*;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A seccomp denial may be an errno (probe prints DENIED, exit 1) or a kill with SIGSYS (the
/// launcher mirrors 128+31). Both are refusals; anything else is an escape.
#[track_caller]
fn assert_refused(out: &Out, what: &str) {
    let sigsys = 128 + libc::SIGSYS;
    assert!(
        (out.code() == 1 && out.verdict().starts_with("DENIED:")) || out.code() == sigsys,
        "ESCAPE: {what} was expected to be refused inside the cell (DENIED, or killed by SIGSYS), \
         but it was not:{}",
        out.describe()
    );
}

// =================================================================================== filesystem

#[test]
fn ssh_keys_in_home_are_absent_unless_granted() {
    let sc = Scratch::new("ssh");
    let home = sc.dir("home");
    let key = sc.file("home/.ssh/id_rsa", "canary private key material (not a real key)\n");
    sc.file("home/.aws/credentials", "[default]\naws_access_key_id = canary\n");
    let cell = cell().launcher_env("HOME", &home);

    let out = cell.probe(&["read-file", s(&key)]);
    assert_denied(&out, "reading ~/.ssh/id_rsa of the launcher's $HOME");
    let out = cell.probe(&["read-file", s(&home.join(".aws/credentials"))]);
    assert_denied(&out, "reading ~/.aws/credentials of the launcher's $HOME");
    // $HOME itself exists in the cell (a private tmpfs) but shows nothing of the host's home.
    let out = cell.probe(&["list-dir", s(&home)]);
    assert_allowed(&out, "listing the cell's private $HOME");
    assert!(
        !out.data().iter().any(|n| n == ".ssh" || n == ".aws"),
        "the cell's $HOME shows the host's dotfiles:{}",
        out.describe()
    );

    // Positive control: granting ~/.ssh read-only makes the same read succeed.
    let out = cell.clone().read(home.join(".ssh")).probe(&["read-file", s(&key)]);
    assert_allowed(&out, "reading ~/.ssh/id_rsa when ~/.ssh is granted with --read");
}

#[test]
fn etc_shadow_is_absent() {
    let out = cell().probe(&["read-file", "/etc/shadow"]);
    assert_denied(&out, "reading /etc/shadow");
    let out = cell().probe(&["stat", "/etc/gshadow"]);
    assert_denied(&out, "seeing /etc/gshadow");
    // Control: the host has it and root can read it there, so the probe can read it...
    assert_allowed(&host_probe(&["read-file", "/etc/shadow"]), "root reading /etc/shadow on the host");
    // ...and the cell does have an /etc with the generated files.
    for f in ["/etc/passwd", "/etc/group", "/etc/hosts", "/etc/resolv.conf"] {
        assert_allowed(&cell().probe(&["read-file", f]), &format!("reading the cell's generated {f}"));
    }
}

#[test]
fn ungranted_directories_are_invisible() {
    let sc = Scratch::new("ungranted");
    let granted = sc.dir("granted");
    let ok = sc.file("granted/visible.txt", "visible\n");
    let secret = sc.file("secret/hidden.txt", "canary: must stay on the host\n");
    let c = cell().read(&granted);

    assert_allowed(&c.probe(&["read-file", s(&ok)]), "reading a file in a --read grant");
    assert_denied(&c.probe(&["read-file", s(&secret)]), "reading a file in an ungranted sibling directory");
    assert_denied(&c.probe(&["list-dir", s(&sc.path.join("secret"))]), "listing an ungranted sibling directory");
    // The grant's parent exists only as a mount point: it must not reveal the sibling.
    let out = c.probe(&["list-dir", s(&sc.path)]);
    // The listed names (not the verdict line, whose path may contain "secret" anywhere).
    assert!(
        !out.data().iter().any(|name| name.contains("secret")),
        "the parent of a grant lists an ungranted sibling directory:{}",
        out.describe()
    );
    // Control: granting the sibling makes the read succeed.
    let out = c.clone().read(sc.path.join("secret")).probe(&["read-file", s(&secret)]);
    assert_allowed(&out, "reading the sibling once it is granted");
}

#[test]
fn symlinks_out_of_a_granted_dir_are_not_followed() {
    let sc = Scratch::new("symlink");
    let granted = sc.dir("granted");
    sc.file("granted/inside.txt", "inside\n");
    let secret = sc.file("secret/hidden.txt", "canary: must stay on the host\n");
    let abs = granted.join("abs-link");
    let rel = granted.join("rel-link");
    let shadow = granted.join("shadow-link");
    let inner = granted.join("inner-link");
    std::os::unix::fs::symlink(&secret, &abs).unwrap();
    std::os::unix::fs::symlink("../secret/hidden.txt", &rel).unwrap();
    std::os::unix::fs::symlink("/etc/shadow", &shadow).unwrap();
    std::os::unix::fs::symlink(granted.join("inside.txt"), &inner).unwrap();
    let c = cell().read(&granted);

    assert_denied(&c.probe(&["follow-symlink-read", s(&abs)]), "an absolute symlink out of a grant");
    assert_denied(&c.probe(&["follow-symlink-read", s(&rel)]), "a relative symlink out of a grant");
    assert_denied(&c.probe(&["follow-symlink-read", s(&shadow)]), "a symlink from a grant to /etc/shadow");
    // Controls: a symlink staying inside the grant works in the cell; the escaping ones work on
    // the host (they are valid links).
    assert_allowed(&c.probe(&["follow-symlink-read", s(&inner)]), "a symlink inside the grant");
    assert_allowed(&host_probe(&["follow-symlink-read", s(&abs)]), "the absolute link on the host");
    assert_allowed(&host_probe(&["follow-symlink-read", s(&rel)]), "the relative link on the host");
}

#[test]
fn read_only_grants_cannot_be_written() {
    let sc = Scratch::new("ro");
    let dir = sc.dir("data");
    let f = sc.file("data/file.txt", "original\n");
    let c = cell().read(&dir);

    assert_denied(
        &c.probe(&["write-file", s(&f), "overwritten by the cell\n"]),
        "overwriting a file in a --read grant",
    );
    assert_denied(&c.probe(&["create-file-in", s(&dir)]), "creating a file in a --read grant");
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "original\n", "the host file changed");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "a file appeared in the read-only grant on the host");

    // Control: the same writes through a --write grant succeed and land on the host.
    let c = cell().write(&dir);
    assert_allowed(&c.probe(&["write-file", s(&f), "written by the cell\n"]), "overwriting a file in a --write grant");
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "written by the cell\n",
        "the --write grant did not reach the host"
    );
    assert_allowed(&c.probe(&["create-file-in", s(&dir)]), "creating a file in a --write grant");
}

#[test]
fn a_read_grant_inside_a_write_grant_stays_read_only() {
    let sc = Scratch::new("nested");
    let outer = sc.dir("outer");
    let inner = sc.dir("outer/inner");
    let c = cell().write(&outer).read(&inner);
    assert_allowed(&c.probe(&["create-file-in", s(&outer)]), "creating a file in the --write grant");
    assert_denied(
        &c.probe(&["create-file-in", s(&inner)]),
        "creating a file in a --read grant nested in a --write grant",
    );
}

#[test]
fn system_directories_are_read_only() {
    let marker = unique("usr");
    for dir in ["/usr", "/usr/bin", "/bin", "/lib", "/etc"] {
        let target = format!("{dir}/mcpcell-e2e-{marker}");
        let out = cell().probe(&["write-file", &target]);
        // Never leave debris on the host if the cell did write through.
        let leaked = Path::new(&target).exists();
        let _ = std::fs::remove_file(&target);
        assert_denied(&out, &format!("creating {target}"));
        assert!(!leaked, "{target} appeared on the host");
    }
    // Control: the probe can create files where the cell may write (its private /tmp).
    assert_allowed(&cell().probe(&["write-file", &format!("/tmp/{marker}")]), "writing the cell's private /tmp");
}

#[test]
fn host_tmp_is_private() {
    let marker = unique("tmp");
    let host_file = format!("/tmp/mcpcell-e2e-host-{marker}");
    std::fs::write(&host_file, "host tmp canary\n").unwrap();
    struct Rm(String);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _rm = Rm(host_file.clone());
    let cell_file = format!("/tmp/mcpcell-e2e-cell-{marker}");
    let _rm2 = Rm(cell_file.clone());

    assert_allowed(&host_probe(&["read-file", &host_file]), "reading the host /tmp file on the host");
    assert_denied(&cell().probe(&["read-file", &host_file]), "reading a host /tmp file from the cell");
    let out = cell().probe(&["list-dir", "/tmp"]);
    assert_allowed(&out, "listing the cell's /tmp");
    assert!(!out.stdout().contains(&marker), "the host's /tmp shows through:{}", out.describe());

    assert_allowed(&cell().probe(&["write-file", &cell_file]), "writing the cell's private /tmp");
    assert!(!Path::new(&cell_file).exists(), "a file the cell wrote to /tmp appeared in the host's /tmp");
}

#[test]
fn a_grant_under_tmp_is_visible_inside_the_private_tmp() {
    let sc = Scratch::in_tmp("grant-in-tmp");
    let f = sc.file("data.txt", "granted under /tmp\n");
    assert_allowed(&cell().read(&sc.path).probe(&["read-file", s(&f)]), "reading a --read grant that lives under /tmp");
    assert_denied(&cell().probe(&["read-file", s(&f)]), "reading the same file without the grant");
}

#[test]
fn a_granted_path_that_does_not_exist_is_refused() {
    let missing = format!("/nonexistent-{}/data", unique("missing"));
    for flag in ["--read", "--write"] {
        let out = cell().flag(flag, &missing).probe(&["print-env"]);
        assert_code(&out, 125, &format!("{flag} of a missing path must be refused before start"));
        assert!(
            out.stderr().contains("mcpcell: error:") && out.stderr().contains(&missing),
            "the refusal must start with `mcpcell: error:` and name the missing path:{}",
            out.describe()
        );
        assert!(!out.stdout().contains("ALLOWED"), "the command ran despite the refusal:{}", out.describe());
    }
    assert!(!Path::new(&missing).exists(), "mcpcell created the missing path on the host");
}

#[test]
fn dev_is_minimal() {
    let out = cell().probe(&["list-dir", "/dev"]);
    assert_allowed(&out, "listing the cell's /dev");
    let mut allowed_names =
        vec!["null", "zero", "full", "random", "urandom", "shm", "fd", "stdin", "stdout", "stderr", "pts", "ptmx"];
    if on_container() {
        // The engine's /dev always has these: mqueue belongs to the container's own IPC
        // namespace, and /dev/tty cannot be opened without a controlling terminal (below).
        allowed_names.extend(["mqueue", "tty"]);
        assert_denied(&cell().probe(&["read-file", "/dev/tty"]), "opening /dev/tty (no controlling terminal)");
    }
    let extra: Vec<String> = out.data().into_iter().filter(|n| !allowed_names.contains(&n.as_str())).collect();
    assert!(extra.is_empty(), "the cell's /dev has more than the minimal set: {extra:?}{}", out.describe());
    for dev in ["null", "zero", "full", "random", "urandom"] {
        assert!(out.data().iter().any(|n| n == dev), "/dev/{dev} is missing in the cell:{}", out.describe());
    }
    assert_allowed(&cell().probe(&["write-file", "/dev/null"]), "writing /dev/null in the cell");
    // Host devices that must not exist in the cell; each checked on the host first.
    for dev in ["/dev/kmsg", "/dev/kvm", "/dev/userfaultfd", "/dev/vda", "/dev/fuse", "/dev/tty"] {
        if host_probe(&["stat", dev]).code() != 0 || (on_container() && dev == "/dev/tty") {
            continue; // not a host device on this machine: nothing to hide
        }
        assert_denied(&cell().probe(&["stat", dev]), &format!("seeing the host device {dev}"));
    }
    assert_allowed(&host_probe(&["stat", "/dev/kmsg"]), "the host has /dev/kmsg (control for the loop above)");
}

#[test]
fn runtime_sockets_dirs_are_absent() {
    // docker.sock, D-Bus, ssh-agent and friends live under /run and /var/run.
    for p in ["/run", "/var/run", "/var"] {
        assert_allowed(&host_probe(&["stat", p]), &format!("{p} exists on the host"));
        assert_denied(&cell().probe(&["stat", p]), &format!("seeing the host's {p}"));
    }
}

#[test]
fn host_unix_socket_is_unreachable() {
    let sc = Scratch::new("docker");
    let sock = sc.join("docker.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    assert_denied(
        &cell().probe(&["connect-unix", s(&sock)]),
        "connecting to an ungranted host unix socket (fake docker.sock)",
    );
    assert!(listener.accept().is_err(), "the host socket accepted a connection from the cell");
    assert_allowed(&host_probe(&["connect-unix", s(&sock)]), "connecting to the socket on the host");
}

// =================================================================================== processes

/// A probe sleeping on the host, recognisable by a marker in its command line.
fn host_marked_sleeper(marker: &str) -> HostProc {
    let child = Command::new(probe())
        .args(["sleep", "600", marker])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    HostProc(child)
}

#[test]
fn host_processes_cannot_be_signalled() {
    let marker = unique("victim");
    let victim = host_marked_sleeper(&marker);
    let pid = victim.pid().to_string();

    assert_denied(&cell().probe(&["kill", &pid, "9"]), "SIGKILL to a host process by pid");
    assert_denied(&cell().probe(&["kill", &pid, "0"]), "probing a host pid with signal 0");
    // kill(-1) signals every process the caller may signal: it must stay inside the cell.
    let _ = cell().probe(&["kill", "-1", "9"]);
    std::thread::sleep(Duration::from_millis(200));
    assert!(alive(victim.pid()), "a host process died from a signal sent inside the cell");

    // Control: the same probe on the host kills it.
    assert_allowed(&host_probe(&["kill", &pid, "9"]), "SIGKILL to the process from the host");
    assert!(eventually(Duration::from_secs(5), || !alive(victim.pid())), "the control kill did not kill the victim");
}

#[test]
fn host_processes_cannot_be_ptraced() {
    let marker = unique("traced");
    let victim = host_marked_sleeper(&marker);
    let pid = victim.pid().to_string();
    assert_denied(&cell().probe(&["ptrace-attach", &pid]), "PTRACE_ATTACH to a host process");
    assert_allowed(&host_probe(&["ptrace-attach", &pid]), "PTRACE_ATTACH from the host");
    assert!(alive(victim.pid()), "the victim died");
}

#[test]
fn host_processes_are_invisible() {
    let marker = unique("hidden");
    let _victim = host_marked_sleeper(&marker);
    let out = cell().probe(&["list-procs"]);
    assert_allowed(&out, "listing the cell's /proc");
    assert!(!out.stdout().contains(&marker), "a host process is visible in the cell's /proc:{}", out.describe());
    assert!(
        out.data().len() <= 5,
        "the cell's /proc lists more processes than the cell's own (expected at most 5):{}",
        out.describe()
    );
    let out = host_probe(&["list-procs"]);
    assert!(out.stdout().contains(&marker), "control: the host's /proc lists the marked process:{}", out.describe());
}

#[test]
fn launcher_environment_is_invisible() {
    let canary_name = "MCPCELL_E2E_CANARY";
    let canary_value = unique("canary-value");
    let c = cell().launcher_env(canary_name, &canary_value);
    // The scanner reads its own environment and every /proc/*/environ and cmdline it can see. The
    // needle travels hex-encoded so that no command line contains it.
    let needle = format!("hex:{}", canary_value.bytes().map(|b| format!("{b:02x}")).collect::<String>());
    assert_denied(&c.probe(&["find-string", &needle]), "finding the launcher's environment inside the cell");
    // The cell's pid 1 holds whatever environment mcpcell handed it: not the launcher's.
    let out = c.probe(&["read-environ", "1"]);
    assert!(
        out.code() == 1 || (out.code() == 0 && !out.stdout().contains(canary_name)),
        "pid 1 of the cell carries the launcher's variable {canary_name}:{}",
        out.describe()
    );
    // Control: when the variable is passed with --env NAME, the same scan finds it.
    let out = c.clone().flag("--env", canary_name).probe(&["find-string", &needle]);
    assert_allowed(&out, "finding a variable passed with --env NAME");
}

#[test]
fn environment_is_clean() {
    let sc = Scratch::new("envhome");
    let home = sc.dir("home");
    let c = cell()
        .launcher_env("HOME", &home)
        .launcher_env("MCPCELL_E2E_CANARY", "x")
        .launcher_env("AWS_SECRET_ACCESS_KEY", "canary")
        .launcher_env("SSH_AUTH_SOCK", "/tmp/ssh-canary/agent.1")
        .launcher_env("LD_LIBRARY_PATH", "/nonexistent-canary")
        .launcher_env("DECLARED_FROM_HOST", "host-value")
        .launcher_env("USER", "canary-user")
        .launcher_env("TMPDIR", "/canary-tmp");
    let out = c
        .clone()
        .flag("--env", "DECLARED_LITERAL=literal-value")
        .flag("--env", "DECLARED_FROM_HOST")
        .probe(&["print-env"]);
    assert_allowed(&out, "printing the cell's environment");
    let vars: Vec<(String, String)> = out
        .data()
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    // Generated by mcpcell (never copied from the launcher) or declared.
    let permitted =
        ["PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "TERM", "LANG", "DECLARED_LITERAL", "DECLARED_FROM_HOST"];
    let extra: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).filter(|k| !permitted.contains(k)).collect();
    assert!(extra.is_empty(), "undeclared variables reached the cell: {extra:?}{}", out.describe());
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(
        get("HOME").as_deref(),
        Some(s(&home)),
        "HOME in the cell must be the launcher's $HOME:{}",
        out.describe()
    );
    assert!(get("PATH").is_some_and(|p| p.contains("/usr/bin")), "PATH must be set:{}", out.describe());
    let me = std::process::Command::new("id")
        .arg("-un")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    // A root launcher's container runs as nobody (never root), and says so.
    let me = if on_container() && me.as_deref() == Some("root") { Some("nobody".to_string()) } else { me };
    assert_eq!(get("USER"), me, "USER is the invoking user's name, not the launcher's $USER:{}", out.describe());
    assert_eq!(get("LOGNAME"), get("USER"), "LOGNAME matches USER:{}", out.describe());
    assert_eq!(get("TMPDIR").as_deref(), Some("/tmp"), "TMPDIR is the cell's private /tmp:{}", out.describe());
    assert_eq!(get("DECLARED_LITERAL").as_deref(), Some("literal-value"), "--env NAME=VALUE:{}", out.describe());
    assert_eq!(get("DECLARED_FROM_HOST").as_deref(), Some("host-value"), "--env NAME:{}", out.describe());
}

#[test]
fn inherited_file_descriptors_are_closed() {
    use std::os::unix::io::AsRawFd;
    use std::os::unix::process::CommandExt;
    let sc = Scratch::new("fds");
    let f = std::fs::File::open(sc.file("secret.txt", "leaked through an fd\n")).unwrap();
    let raw = f.as_raw_fd();
    // SAFETY: the pre_exec hook only calls dup2, which is async-signal-safe, and allocates nothing.
    let leak = move |cmd: &mut Command| unsafe {
        cmd.pre_exec(move || {
            // fd 7, without CLOEXEC: inherited across exec by whatever mcpcell starts.
            if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    };
    let mut cmd = cell().command(probe(), &["list-fds"]);
    leak(&mut cmd);
    let out = run_cmd(cmd, None, CELL_TIMEOUT);
    assert_allowed(&out, "listing the cell's fds");
    assert!(
        out.verdict().ends_with("open fds: 0,1,2"),
        "the cell holds file descriptors other than 0, 1, 2:{}",
        out.describe()
    );
    // Control: the same inheritance reaches the probe on the host.
    let mut cmd = Command::new(probe());
    cmd.arg("list-fds");
    leak(&mut cmd);
    let out = run_cmd(cmd, None, CELL_TIMEOUT);
    assert!(out.stdout().contains("7 -> "), "control: fd 7 inherited on the host:{}", out.describe());
}

#[test]
fn inherited_fds_are_not_reachable_through_proc() {
    // A file the launcher holds open (inherited fd 7) must not be readable from the cell through
    // /proc/PID/fd of any process the cell can see (its init, a helper, the launcher).
    use std::os::unix::io::AsRawFd;
    use std::os::unix::process::CommandExt;
    let sc = Scratch::new("fdscan");
    let content = unique("fd-canary");
    let path = sc.file("held-open.txt", &content);
    let f = std::fs::File::open(&path).unwrap();
    let raw = f.as_raw_fd();
    let needle = format!("hex:{}", content.bytes().map(|b| format!("{b:02x}")).collect::<String>());
    let mut cmd = cell().command(probe(), &["scan-fds", &needle]);
    // SAFETY: the pre_exec hook only calls dup2, which is async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || if libc::dup2(raw, 7) < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) });
    }
    let out = run_cmd(cmd, None, CELL_TIMEOUT);
    assert_denied(&out, "reading a file the launcher holds open through /proc/*/fd");
    // Control: on the host, the probe reads it through another process's fd.
    let holder = HostProc(
        Command::new("sleep")
            .arg("600")
            .stdin(std::fs::File::open(&path).unwrap())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let out = host_probe(&["scan-fds", &needle]);
    assert_allowed(&out, "reading the held-open file through /proc/PID/fd on the host");
    drop(holder);
}

#[test]
fn proc_root_links_lead_nowhere() {
    // /proc/PID/root and /proc/PID/cwd of any process visible in the cell (its init included)
    // must not lead back into the host's filesystem.
    for link in ["/proc/1/root/etc/shadow", "/proc/1/cwd/etc/shadow", "/proc/2/root/etc/shadow"] {
        assert_denied(&cell().probe(&["read-file", link]), &format!("reading {link}"));
    }
    let out = cell().probe(&["list-dir", "/proc/1/root"]);
    assert!(
        out.code() == 1 || !out.data().iter().any(|n| n == "var" || n == "home" || n == "boot"),
        "/proc/1/root in the cell shows the host's root:{}",
        out.describe()
    );
    // Control: through a host process's root link, root on the host reads the file.
    let victim = host_sleeper();
    let link = format!("/proc/{}/root/etc/shadow", victim.pid());
    assert_allowed(&host_probe(&["read-file", &link]), "reading /proc/PID/root/etc/shadow on the host");
}

// =================================================================================== privileges

/// Fields of `mcpcell-probe whoami` as a map.
fn whoami(out: &Out) -> std::collections::BTreeMap<String, String> {
    out.data()
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn no_capabilities_no_new_privs_seccomp_no_tty() {
    let out = cell().probe(&["whoami"]);
    assert_allowed(&out, "whoami in the cell");
    let w = whoami(&out);
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(
            w.get(cap).map(String::as_str),
            Some("0000000000000000"),
            "{cap} must be empty in the cell (all capabilities dropped):{}",
            out.describe()
        );
    }
    assert_eq!(w.get("NoNewPrivs").map(String::as_str), Some("1"), "no_new_privs must be set:{}", out.describe());
    assert_eq!(
        w.get("Seccomp").map(String::as_str),
        Some("2"),
        "a seccomp filter must be installed:{}",
        out.describe()
    );
    assert!(
        w.get("ControllingTty").is_some_and(|v| v.starts_with("no")),
        "the cell must have no controlling tty:{}",
        out.describe()
    );
    // Control: the parser reads real values (the host probe runs as root with capabilities).
    let host = whoami(&host_probe(&["whoami"]));
    assert_ne!(host.get("CapEff").map(String::as_str), Some("0000000000000000"), "control: host root has capabilities");
}

#[test]
fn user_namespace_maps_a_single_id() {
    let out = cell().probe(&["whoami"]);
    assert_allowed(&out, "whoami in the cell");
    if on_container() {
        // No user namespace of its own (unless the engine remaps users): the claim there is
        // that the server is never root — a root launcher's container runs as 65534.
        let me = whoami(&out);
        assert_eq!(
            me.get("Uid").map(|u| u.split_whitespace().next().unwrap_or("")),
            Some("65534"),
            "{}",
            out.describe()
        );
        assert_eq!(
            me.get("Gid").map(|u| u.split_whitespace().next().unwrap_or("")),
            Some("65534"),
            "{}",
            out.describe()
        );
        return;
    }
    for map in ["uid_map", "gid_map"] {
        let lines: Vec<String> = out.data().into_iter().filter(|l| l.starts_with(&format!("{map}:"))).collect();
        assert_eq!(lines.len(), 1, "{map} must have exactly one line:{}", out.describe());
        let fields: Vec<&str> = lines[0].split_whitespace().skip(1).collect();
        assert_eq!(fields.len(), 3, "malformed {map}: {lines:?}");
        assert_eq!(
            fields[2],
            "1",
            "{map} must map exactly one id (a full range would make the host's ids reachable):{}",
            out.describe()
        );
    }
    // Control: the host's map is the full identity range, so the check can tell them apart.
    let host = host_probe(&["whoami"]);
    assert!(host.stdout().contains("uid_map: 0 0 4294967295"), "control: host uid_map:{}", host.describe());
}

#[test]
fn proc_sys_is_read_only() {
    let current = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let current = current.trim_end().to_string();
    let out = cell().probe(&["write-file", "/proc/sys/kernel/hostname", "mcpcell-escaped\n"]);
    let now = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_denied(&out, "writing /proc/sys/kernel/hostname");
    assert_eq!(now.trim_end(), current, "the host's hostname changed");
    assert_denied(
        &cell().probe(&["write-file", "/proc/sys/vm/drop_caches", "3\n"]),
        "writing /proc/sys/vm/drop_caches",
    );
    // Control: root on the host can write it (the same value back).
    assert_allowed(
        &host_probe(&["write-file", "/proc/sys/kernel/hostname", &format!("{current}\n")]),
        "writing the hostname on the host",
    );
}

#[test]
fn tiocsti_cannot_inject_into_the_terminal() {
    // Give the launcher a terminal as stdin, as an interactive shell would.
    let (master, slave) = open_pty();
    let run_with_tty = |cmd: Command| run_with_tty(slave, cmd);
    let out = run_with_tty(cell().command(probe(), &["tiocsti", "0"]));
    assert_refused(&out, "TIOCSTI on the terminal handed to the launcher as stdin");
    let out = run_with_tty(cell().command(probe(), &["tiocsti", "/dev/tty"]));
    assert_refused(&out, "TIOCSTI through /dev/tty");
    // Control: on the host the same ioctl on the same terminal works (root, legacy TIOCSTI on).
    let mut host = Command::new(probe());
    host.args(["tiocsti", "0"]);
    assert_allowed(&run_with_tty(host), "TIOCSTI on the host");
    // SAFETY: closes the two fds openpty gave us; nothing uses them afterwards.
    unsafe {
        libc::close(master);
        libc::close(slave);
    }
}

// =================================================================================== kernel surface

macro_rules! kernel_surface {
    ($name:ident, [$($arg:expr),+], $what:expr) => {
        #[test]
        fn $name() {
            let args = [$($arg),+];
            assert_refused(&cell().probe(&args), $what);
            assert_allowed(&host_probe(&args), &format!("{} on the host (root)", $what));
        }
    };
}

kernel_surface!(unshare_user_namespace, ["unshare-user"], "unshare(CLONE_NEWUSER)");
kernel_surface!(unshare_mount_namespace, ["unshare-mount"], "unshare(CLONE_NEWNS)");
kernel_surface!(clone_with_namespace_flag, ["clone-newuser"], "clone(CLONE_NEWUSER)");
kernel_surface!(setns_into_a_namespace, ["setns", "/proc/self/ns/uts"], "setns(/proc/self/ns/uts)");
kernel_surface!(new_mount_api_fsopen, ["fsopen"], "fsopen(\"tmpfs\")");
kernel_surface!(new_mount_api_open_tree, ["open-tree"], "open_tree(OPEN_TREE_CLONE)");
kernel_surface!(bpf_map_create, ["bpf"], "bpf(BPF_MAP_CREATE)");
kernel_surface!(keyctl_session_keyring, ["keyctl"], "keyctl(KEYCTL_JOIN_SESSION_KEYRING)");
kernel_surface!(io_uring_setup, ["io-uring-setup"], "io_uring_setup");
kernel_surface!(perf_event_open_on_self, ["perf-event-open"], "perf_event_open (exclude_kernel, self)");
kernel_surface!(userfaultfd_user_mode, ["userfaultfd"], "userfaultfd(UFFD_USER_MODE_ONLY)");
kernel_surface!(personality_disabling_aslr, ["personality-no-aslr"], "personality(ADDR_NO_RANDOMIZE)");
kernel_surface!(i386_syscall_entry, ["i386-syscall"], "a syscall through the i386 entry point (int 0x80)");

#[test]
fn mount_tmpfs() {
    assert_refused(&cell().probe(&["mount-tmpfs", "/tmp"]), "mount(tmpfs) over the cell's /tmp");
    let sc = Scratch::new("mnt");
    assert_allowed(&host_probe(&["mount-tmpfs", s(&sc.path)]), "mount(tmpfs) on the host (root)");
}

// =================================================================================== network

#[test]
fn host_loopback_tcp_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    assert_denied(&cell().probe(&["tcp-connect", &addr]), "TCP to a listener on the host's 127.0.0.1");
    assert!(listener.accept().is_err(), "the host listener accepted a connection from the cell");
    assert_allowed(&host_probe(&["tcp-connect", &addr]), "TCP to the listener from the host");
}

#[test]
fn host_loopback_tcp6_is_unreachable() {
    let listener = TcpListener::bind("[::1]:0").expect("the host has IPv6 loopback");
    let addr = listener.local_addr().unwrap().to_string();
    assert_denied(&cell().probe(&["tcp-connect", &addr]), "TCP to a listener on the host's [::1]");
    assert_allowed(&host_probe(&["tcp-connect", &addr]), "TCP to [::1] from the host");
}

/// A UDP echo server on the host; stops when the socket is dropped (the thread ends on timeout).
fn udp_echo(bind: &str) -> (String, std::thread::JoinHandle<usize>) {
    let sock = UdpSocket::bind(bind).unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let h = std::thread::spawn(move || {
        let mut n = 0;
        let mut buf = [0u8; 512];
        while let Ok((len, from)) = sock.recv_from(&mut buf) {
            n += 1;
            let _ = sock.send_to(&buf[..len], from);
            if n >= 1 {
                break;
            }
        }
        n
    });
    (addr, h)
}

#[test]
fn host_loopback_udp_is_unreachable() {
    let (addr, h) = udp_echo("127.0.0.1:0");
    assert_denied(&cell().probe(&["udp-echo", &addr]), "UDP round trip to the host's 127.0.0.1");
    // Control: the echo server answers the host probe (and this ends its thread).
    assert_allowed(&host_probe(&["udp-echo", &addr]), "UDP round trip from the host");
    assert_eq!(h.join().unwrap(), 1);
}

#[test]
fn host_external_address_is_unreachable() {
    let ip = host_ipv4().expect("the host has a non-loopback IPv4 address to test against");
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let addr = format!("{ip}:{}", listener.local_addr().unwrap().port());
    assert_denied(&cell().probe(&["tcp-connect", &addr]), "TCP to the host's own non-loopback address");
    assert_allowed(&host_probe(&["tcp-connect", &addr]), "TCP to the host address from the host");
}

#[test]
fn only_loopback_network_device() {
    let out = cell().probe(&["list-netdevs"]);
    assert_allowed(&out, "listing network devices");
    assert_eq!(out.data(), vec!["lo".to_string()], "the cell must have only loopback:{}", out.describe());
    // Control: the host has more than loopback.
    assert!(host_probe(&["list-netdevs"]).data().len() > 1, "control: the host has other devices");
}

#[test]
fn host_abstract_unix_socket_is_unreachable() {
    use std::os::linux::net::SocketAddrExt;
    let name = unique("mcpcell-e2e-abstract");
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    listener.set_nonblocking(true).unwrap();
    assert_denied(&cell().probe(&["connect-abstract", &name]), "connecting to a host abstract unix socket");
    assert!(listener.accept().is_err(), "the host abstract socket accepted a connection from the cell");
    assert_allowed(&host_probe(&["connect-abstract", &name]), "connecting to the abstract socket from the host");
}

fn host_ipv4() -> Option<std::net::Ipv4Addr> {
    let mut ifs: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `ifs` is a valid out-pointer; the list is freed below.
    if unsafe { libc::getifaddrs(&mut ifs) } != 0 {
        return None;
    }
    let mut found = None;
    let mut p = ifs;
    while !p.is_null() {
        // SAFETY: `p` is a non-null node of the list from getifaddrs, which is still live.
        let ifa = unsafe { &*p };
        // SAFETY: `ifa_addr` was just checked non-null and points into the live list.
        if !ifa.ifa_addr.is_null() && unsafe { (*ifa.ifa_addr).sa_family } as i32 == libc::AF_INET {
            // SAFETY: the family is AF_INET, so `ifa_addr` points to a sockaddr_in.
            let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
            if !ip.is_loopback() {
                found = Some(ip);
                break;
            }
        }
        p = ifa.ifa_next;
    }
    // SAFETY: `ifs` came from getifaddrs, is freed once, and nothing borrowed from it outlives this.
    unsafe { libc::freeifaddrs(ifs) };
    found
}

// =================================================================================== resource bombs

#[test]
fn fork_bomb_is_contained() {
    let out = cell().flag("--pids", "64").probe(&["fork-bomb", "1000"]);
    assert_denied(&out, "forking 1000 processes with --pids 64");
    // The host is fine: it can still start processes.
    let ok = Command::new("/bin/true").status().expect("the host can still fork");
    assert!(ok.success());
    // Control: a fork count under the limit succeeds.
    assert_allowed(&cell().flag("--pids", "64").probe(&["fork-bomb", "16"]), "forking 16 processes with --pids 64");
}

#[test]
fn memory_bomb_is_contained() {
    let out = cell().flag("--memory", "256MiB").probe(&["alloc-mb", "1024"]);
    let oom_killed = out.code() == 128 + libc::SIGKILL;
    assert!(
        oom_killed || (out.code() == 1 && out.verdict().starts_with("DENIED:")),
        "ESCAPE: touching 1024 MiB with --memory 256MiB must fail (ENOMEM, or the cell OOM-killed):{}",
        out.describe()
    );
    assert_allowed(
        &cell().flag("--memory", "256MiB").probe(&["alloc-mb", "64"]),
        "touching 64 MiB with --memory 256MiB",
    );
}

#[test]
fn the_private_tmp_is_size_limited() {
    // Filling the cell's /tmp (a tmpfs of --tmpfs-size) stops at its size, not at the host's disk.
    let out = cell().flag("--tmpfs-size", "1MiB").probe(&["write-bytes", "/tmp/fill", &(4 << 20).to_string()]);
    assert_denied(&out, "writing 4 MiB into a 1 MiB private /tmp");
    assert!(out.verdict().contains("ENOSPC"), "the tmpfs is full, not some other error:{}", out.describe());
    // Control: what fits is written.
    let out = cell().flag("--tmpfs-size", "1MiB").probe(&["write-bytes", "/tmp/fill", &(256 << 10).to_string()]);
    assert_allowed(&out, "writing 256 KiB into a 1 MiB private /tmp");
}

#[test]
fn open_files_are_limited() {
    let out = cell().flag("--open-files", "64").probe(&["open-many", "200"]);
    assert_denied(&out, "holding 200 open files with --open-files 64");
    assert!(out.verdict().contains("EMFILE"), "the open-files limit, not another error:{}", out.describe());
    assert_allowed(
        &cell().flag("--open-files", "64").probe(&["open-many", "32"]),
        "32 open files with --open-files 64",
    );
}

#[test]
fn file_size_limit_applies() {
    let sc = Scratch::new("fsize");
    let dir = sc.dir("out");
    let target = dir.join("big");
    let two_mib = (2 << 20).to_string();
    let out = cell().write(&dir).flag("--file-size", "1MiB").probe(&["write-bytes", s(&target), &two_mib]);
    let sigxfsz = 128 + libc::SIGXFSZ;
    assert!(
        out.code() == sigxfsz || (out.code() == 1 && out.verdict().starts_with("DENIED:")),
        "writing 2 MiB with --file-size 1MiB must fail (EFBIG or SIGXFSZ):{}",
        out.describe()
    );
    let len = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    assert!(len <= 1 << 20, "the file grew to {len} bytes past --file-size 1MiB");
    assert_allowed(
        &cell().write(&dir).flag("--file-size", "4MiB").probe(&["write-bytes", s(&target), &two_mib]),
        "writing 2 MiB with --file-size 4MiB",
    );
}

// =================================================================================== supervision

#[test]
fn sigkill_of_the_launcher_leaves_no_process_behind() {
    let marker = unique("orphan");
    let _cleanup = KillOnDrop(marker.clone());
    let mut cmd = cell().command(probe(), &["sleep", "300", &marker]);
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut launcher = cmd.spawn().unwrap();
    let lpid = launcher.id();
    // Wait for the cell's process (anything with the marker that is not the launcher itself).
    let seen = eventually(Duration::from_secs(30), || procs_with(&marker).iter().any(|(p, _)| *p != lpid));
    if !seen {
        let _ = launcher.kill();
        let out = wait_out(launcher, "mcpcell exec -- probe sleep".into(), CELL_TIMEOUT);
        panic!("the cell's sleeping process never appeared:{}", out.describe());
    }
    signal(lpid, libc::SIGKILL);
    let _ = launcher.wait();
    let gone = eventually(Duration::from_secs(5), || procs_with(&marker).is_empty());
    let left = procs_with(&marker);
    assert!(gone, "processes survived SIGKILL of the launcher: {left:?}");
}

// =================================================================================== wider battery (issue 8)

#[test]
fn keyctl_session_to_parent() {
    let args = ["keyctl-session-to-parent"];
    assert_refused(&cell().probe(&args), "keyctl(KEYCTL_SESSION_TO_PARENT)");
    // Control: on the host the syscall reaches the kernel: it succeeds, or fails with an errno
    // other than the EPERM a seccomp filter would return.
    let out = host_probe(&args);
    assert!(
        out.code() == 0 || (out.code() == 1 && !out.verdict().contains("EPERM")),
        "control: keyctl(KEYCTL_SESSION_TO_PARENT) on the host was expected to reach the kernel:{}",
        out.describe()
    );
}

#[test]
fn tiocsti_with_upper_request_bits_set_is_still_denied() {
    // Same pty setup as tiocsti_cannot_inject_into_the_terminal.
    let (master, slave) = open_pty();
    let run_with_tty = |cmd: Command| run_with_tty(slave, cmd);
    let out = run_with_tty(cell().command(probe(), &["tiocsti-masked", "0"]));
    assert!(
        out.code() == 1 && out.verdict().starts_with("DENIED:") && out.verdict().contains("EPERM"),
        "ESCAPE: TIOCSTI with the upper 32 request bits set (0x100005412) was expected to be \
         DENIED with EPERM by the seccomp filter (which compares the low 32 bits):{}",
        out.describe()
    );
    // Control: on the host the masked request reaches the kernel, which truncates it to TIOCSTI.
    let mut host = Command::new(probe());
    host.args(["tiocsti-masked", "0"]);
    assert_allowed(&run_with_tty(host), "the masked TIOCSTI on the host");
    // SAFETY: closes the two fds openpty gave us; nothing uses them afterwards.
    unsafe {
        libc::close(master);
        libc::close(slave);
    }
}

#[track_caller]
fn assert_enoent_or_eacces(out: &Out, what: &str) {
    assert!(
        out.code() == 1
            && out.verdict().starts_with("DENIED:")
            && (out.verdict().contains("ENOENT") || out.verdict().contains("EACCES")),
        "ESCAPE: {what} was expected to fail with ENOENT or EACCES inside the cell:{}",
        out.describe()
    );
}

#[test]
fn proc_self_root_and_fd_magic_links_stay_in_the_cell() {
    let c = cell();
    for p in ["/proc/1/root/etc/shadow", "/proc/self/root/../../etc/shadow", "/proc/self/root/etc/shadow"] {
        assert_enoent_or_eacces(&c.probe(&["read-file", p]), &format!("reading {p}"));
    }
    // Through an O_PATH fd of a directory, /proc/self/fd/N/.. must not climb out either.
    for (dir, rel) in [("/", "../../etc/shadow"), ("/tmp", "../etc/shadow"), ("/etc", "../../../etc/shadow")] {
        assert_enoent_or_eacces(
            &c.probe(&["read-via-fd", dir, rel]),
            &format!("reading /proc/self/fd/N/{rel} with N open on {dir}"),
        );
    }
    // Controls: the same magic links reach the cell's own (generated) /etc/passwd.
    assert_allowed(&c.probe(&["read-file", "/proc/self/root/etc/passwd"]), "reading /proc/self/root/etc/passwd");
    assert_allowed(&c.probe(&["read-via-fd", "/tmp", "../etc/passwd"]), "reading /proc/self/fd/N/../etc/passwd");
    // ... and on the host the same /proc/self/fd trick reaches the host's /etc/shadow.
    assert_allowed(&host_probe(&["read-via-fd", "/tmp", "../etc/shadow"]), "the /proc/self/fd trick on the host");
}

#[test]
fn dev_shm_is_private() {
    let name = unique("mcpcell-e2e-shm");
    let marker = unique("shm-canary");
    let host_path = Path::new("/dev/shm").join(&name);
    let script = format!("echo {marker} > /dev/shm/{name} && cat /dev/shm/{name}");
    let out = Cell::bare().run("/bin/sh", &["-c", &script], None);
    let leaked = host_path.exists();
    let _ = std::fs::remove_file(&host_path);
    // Control: inside the cell the file was written and read back.
    assert!(
        out.code() == 0 && out.stdout().contains(&marker),
        "control: writing then reading /dev/shm/{name} inside the cell failed:{}",
        out.describe()
    );
    assert!(!leaked, "ESCAPE: /dev/shm/{name} written in the cell appeared in the host's /dev/shm:{}", out.describe());
}

#[test]
fn hardlinks_out_of_other_mounts_into_a_write_grant_fail() {
    let sc = Scratch::new("hardlink");
    let dir = sc.dir("rw");
    let ro = sc.dir("ro");
    sc.file("rw/a", "a\n");
    let ro_file = sc.file("ro/secret", "read-only canary\n");
    let c = cell().write(&dir).read(&ro);
    for src in [Path::new("/etc/passwd"), ro_file.as_path()] {
        let dst = dir.join("x");
        let out = c.probe(&["link", s(src), s(&dst)]);
        let leaked = dst.exists();
        let _ = std::fs::remove_file(&dst);
        assert!(
            out.code() == 1 && out.verdict().contains("EXDEV"),
            "ESCAPE: hardlinking {} into the --write grant was expected to fail with EXDEV:{}",
            src.display(),
            out.describe()
        );
        assert!(!leaked, "a hardlink of {} appeared in the --write grant on the host", src.display());
    }
    // Control: a hardlink within the grant works and lands on the host.
    assert_allowed(&c.probe(&["link", s(&dir.join("a")), s(&dir.join("c"))]), "a hardlink within the --write grant");
    assert!(dir.join("c").exists(), "control: the hardlink made in the cell is not on the host");
}

#[test]
fn renames_out_of_a_write_grant_fail() {
    let sc = Scratch::new("rename");
    let dir = sc.dir("rw");
    sc.file("rw/a", "a\n");
    let c = cell().write(&dir);
    let escaped = format!("{}/../escaped", s(&dir));
    let out = c.probe(&["rename", s(&dir.join("a")), &escaped]);
    assert_denied(&out, "renaming a file out of the --write grant (DIR/../escaped)");
    assert!(!sc.join("escaped").exists(), "ESCAPE: the renamed file appeared next to the grant on the host");
    assert!(dir.join("a").exists(), "the source file vanished from the grant on the host");
    // Control: a rename within the grant works and lands on the host.
    assert_allowed(&c.probe(&["rename", s(&dir.join("a")), s(&dir.join("b"))]), "a rename within the --write grant");
    assert!(
        dir.join("b").exists() && !dir.join("a").exists(),
        "control: the rename in the cell did not reach the host"
    );
}

/// A pseudo-terminal pair (master, slave), as an interactive shell would have.
fn open_pty() -> (i32, i32) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: `master` and `slave` are valid out-pointers; name, termios and winsize may be null.
    let r = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), std::ptr::null()) };
    assert_eq!(r, 0, "openpty: {}", std::io::Error::last_os_error());
    (master, slave)
}

/// Run `cmd` with a dup of the pty `slave` as its stdin (the launcher gets a terminal).
fn run_with_tty(slave: i32, mut cmd: Command) -> Out {
    // SAFETY: dup takes a plain fd; the caller keeps `slave` open until the test ends.
    let fd = unsafe { libc::dup(slave) };
    assert!(fd >= 0, "dup of the pty: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` is a fresh dup that nothing else owns, so Stdio may take ownership of it.
    cmd.stdin(unsafe { <Stdio as std::os::unix::io::FromRawFd>::from_raw_fd(fd) });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let cmdline = render(&cmd);
    let child = cmd.spawn().unwrap();
    wait_out(child, cmdline, CELL_TIMEOUT)
}

#[test]
fn ipc_uts_and_cgroup_namespaces_are_the_cells_own() {
    // Each namespace link of a process in the cell differs from the host's (the control: the
    // host's own readlink, which must give the same answer twice).
    for ns in ["ipc", "uts", "cgroup", "pid", "net", "mnt"] {
        let link = format!("/proc/self/ns/{ns}");
        let host = std::fs::read_link(&link).unwrap().display().to_string();
        assert_eq!(std::fs::read_link(&link).unwrap().display().to_string(), host, "control: {ns} is stable");
        let out = Cell::bare().run("/usr/bin/readlink", &[&link], None);
        assert_code(&out, 0, &format!("readlink {link} in the cell"));
        assert_ne!(out.stdout().trim(), host, "the cell shares the host's {ns} namespace");
    }
    let out = Cell::bare().run("/bin/hostname", &[], None);
    assert_eq!(out.stdout().trim(), "mcpcell", "the cell's own hostname:{}", out.describe());
}
