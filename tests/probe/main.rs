//! `mcpcell-probe ACTION [ARGS...]` — performs exactly one action and reports what the kernel said.
//!
//! The end-to-end tests run it inside a cell (`mcpcell exec -- mcpcell-probe ...`) for the attack
//! and on the host for the positive control. Output contract (first line of stdout):
//!
//! * exit 0, `ALLOWED: <what>` — the action succeeded (more lines may follow with data);
//! * exit 1, `DENIED: <what>: <errno name> (<description>)` — the kernel (or the cell) refused it;
//! * exit 2, `USAGE: ...` — the probe was called wrongly (never a security verdict).
//!
//! It uses raw syscalls through `libc` so that each action is one kernel request and nothing in
//! between (no libc wrapper that silently retries or falls back) blurs the verdict.

use std::ffi::{CString, OsStr};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::time::Duration;

const USAGE: &str = "\
usage: mcpcell-probe ACTION [ARGS...]
filesystem:  read-file PATH | cat PATH | write-file PATH [CONTENT] | write-bytes PATH N
             create-file-in DIR
             list-dir PATH | follow-symlink-read LINK | stat PATH
             read-loop PATH N NEEDLE (reads PATH N times: ALLOWED once a read contains NEEDLE)
             link OLD NEW | rename OLD NEW | read-via-fd DIR REL   (reads /proc/self/fd/N/REL)
processes:   kill PID SIG | ptrace-attach PID | read-environ PID | list-procs
             find-string STRING|hex:HEX   (searches own env, every visible /proc/*/environ, cmdline)
             scan-fds STRING|hex:HEX   (reads other processes' fds via /proc)
             fork-bomb N | alloc-mb N | sleep SECS [MARKER...] | spin-cpu SECS
tty:         tiocsti FD|PATH | tiocsti-masked FD|PATH   (request 0x1_0000_5412)
kernel:      unshare-user | unshare-mount | unshare-net | setns PATH | mount-tmpfs DIR
             fsopen | open-tree | bpf | keyctl | keyctl-session-to-parent | io-uring-setup | perf-event-open | userfaultfd
             clone-newuser | personality-no-aslr | i386-syscall
network:     tcp-connect HOST:PORT | udp-echo HOST:PORT | bind-abstract NAME
             connect-abstract NAME | connect-unix PATH | list-netdevs
egress:      resolve NAME [any|inet|inet6]   (getaddrinfo; prints the addresses)
             http-get NAME PORT PATH [HOSTHEADER]   (getaddrinfo + TCP + HTTP/1.1 GET)
             tls-hello NAME PORT SNI   (a TLS ClientHello naming SNI; prints what came back)
             proxy-connect PROXYHOST:PORT HOST:PORT   (CONNECT, then a GET through the tunnel)
             proxy-get PROXYHOST:PORT URL   (absolute-form GET through an HTTP proxy)
self:        print-env | whoami | list-fds | exit CODE";

enum Verdict {
    Allowed(String),
    Denied(String),
}

fn allowed(what: impl Into<String>) -> Verdict {
    Verdict::Allowed(what.into())
}

fn denied(what: impl std::fmt::Display, err: &std::io::Error) -> Verdict {
    Verdict::Denied(format!("{what}: {}", describe(err)))
}

fn describe(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(n) => format!("{} ({})", errno_name(n), err),
        None => err.to_string(),
    }
}

fn errno_name(n: i32) -> &'static str {
    match n {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::ENOEXEC => "ENOEXEC",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ENOTTY => "ENOTTY",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EADDRINUSE => "EADDRINUSE",
        libc::EADDRNOTAVAIL => "EADDRNOTAVAIL",
        libc::ENETDOWN => "ENETDOWN",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::ECONNRESET => "ECONNRESET",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        _ => "errno",
    }
}

fn last_err() -> std::io::Error {
    std::io::Error::last_os_error()
}

fn cstr(s: &str) -> CString {
    CString::new(s).expect("argument contains a NUL byte")
}

/// Result of a raw syscall returning -1 on failure.
fn check(ret: libc::c_long) -> Result<libc::c_long, std::io::Error> {
    if ret < 0 {
        Err(last_err())
    } else {
        Ok(ret)
    }
}

fn close(fd: libc::c_long) {
    // SAFETY: closes an fd this process owns and does not use afterwards.
    unsafe { libc::close(fd as libc::c_int) };
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(action) = args.first() else {
        usage("no action given");
    };
    let rest = &args[1..];
    let verdict = run(action, rest);
    let mut out = std::io::stdout().lock();
    match verdict {
        Verdict::Allowed(what) => {
            let _ = writeln!(out, "ALLOWED: {what}");
            let _ = out.flush();
            std::process::exit(0);
        }
        Verdict::Denied(what) => {
            let _ = writeln!(out, "DENIED: {what}");
            let _ = out.flush();
            std::process::exit(1);
        }
    }
}

/// A seccomp filter (classic BPF over `struct seccomp_data`) making `feature` look absent.
fn deny_feature(feature: &str) -> std::io::Result<()> {
    const RET: u16 = 0x06; // BPF_RET | BPF_K
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const JSET_K: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    let stmt = |code: u16, k: u32| libc::sock_filter { code, jt: 0, jf: 0, k };
    let jump = |code: u16, k: u32, jt: u8, jf: u8| libc::sock_filter { code, jt, jf, k };
    let errno = |e: i32| libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA);
    let mut prog = vec![stmt(LD_W_ABS, 0)]; // the syscall number
    match feature {
        "landlock" => {
            for nr in [libc::SYS_landlock_create_ruleset, libc::SYS_landlock_add_rule, libc::SYS_landlock_restrict_self]
            {
                prog.push(jump(JEQ_K, nr as u32, 0, 1));
                prog.push(stmt(RET, errno(libc::ENOSYS)));
            }
        }
        "userns" => {
            // clone3 → ENOSYS (libc falls back to clone, whose flags can be inspected).
            prog.push(jump(JEQ_K, libc::SYS_clone3 as u32, 0, 1));
            prog.push(stmt(RET, errno(libc::ENOSYS)));
            for nr in [libc::SYS_clone, libc::SYS_unshare] {
                prog.push(jump(JEQ_K, nr as u32, 0, 3));
                prog.push(stmt(LD_W_ABS, 16)); // low half of args[0]: the flags
                prog.push(jump(JSET_K, libc::CLONE_NEWUSER as u32, 0, 1));
                prog.push(stmt(RET, errno(libc::EPERM)));
                prog.push(stmt(LD_W_ABS, 0)); // back to the number for the next test
            }
        }
        other => usage(&format!("without: unknown feature {other:?} (landlock, userns)")),
    }
    prog.push(stmt(RET, libc::SECCOMP_RET_ALLOW));
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_mut_ptr() };
    // SAFETY: integer-only prctl, then seccomp reads the program we own for the call's duration.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &fprog as *const libc::sock_fprog) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// An fd number, or a terminal opened read-write without becoming its controlling process.
fn tty_fd(target: &str) -> Result<i32, Verdict> {
    if let Ok(fd) = target.parse::<i32>() {
        return Ok(fd);
    }
    let p = cstr(target);
    // SAFETY: `p` is a NUL-terminated path that outlives the call.
    let fd = unsafe { libc::open(p.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(denied(format!("open {target}"), &last_err()));
    }
    Ok(fd)
}

fn usage(msg: &str) -> ! {
    println!("USAGE: {msg}");
    eprintln!("{USAGE}");
    std::process::exit(2);
}

fn arg<'a>(rest: &'a [String], i: usize, name: &str) -> &'a str {
    rest.get(i).map(String::as_str).unwrap_or_else(|| usage(&format!("missing argument {name}")))
}

fn num<T: std::str::FromStr>(rest: &[String], i: usize, name: &str) -> T {
    arg(rest, i, name).parse().unwrap_or_else(|_| usage(&format!("{name} must be a number")))
}

/// Extra data lines printed before the verdict line would break the "first line" contract, so
/// actions that produce data print it after the verdict through this buffer.
static DATA: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn data(line: impl Into<String>) {
    DATA.lock().unwrap().push(line.into());
}

fn run(action: &str, rest: &[String]) -> Verdict {
    let v = dispatch(action, rest);
    // Print the verdict first, then the data lines.
    let lines = std::mem::take(&mut *DATA.lock().unwrap());
    if lines.is_empty() {
        return v;
    }
    let joined = lines.join("\n");
    match v {
        Verdict::Allowed(w) => Verdict::Allowed(format!("{w}\n{joined}")),
        Verdict::Denied(w) => Verdict::Denied(format!("{w}\n{joined}")),
    }
}

fn dispatch(action: &str, rest: &[String]) -> Verdict {
    match action {
        // ---------------------------------------------------------------- filesystem
        "read-file" => {
            let p = arg(rest, 0, "PATH");
            match std::fs::read(p) {
                Ok(b) => allowed(format!("read {p} ({} bytes)", b.len())),
                Err(e) => denied(format!("read {p}"), &e),
            }
        }
        "cat" => {
            let p = arg(rest, 0, "PATH");
            match std::fs::read(p) {
                Ok(b) => {
                    data(String::from_utf8_lossy(&b).trim_end_matches('\n').to_string());
                    allowed(format!("read {p} ({} bytes)", b.len()))
                }
                Err(e) => denied(format!("read {p}"), &e),
            }
        }
        "read-loop" => {
            // For races: another process swaps PATH (or a directory above it) meanwhile.
            let p = arg(rest, 0, "PATH");
            let n: u64 = num(rest, 1, "N");
            let needle = arg(rest, 2, "NEEDLE").as_bytes();
            let (mut hits, mut other, mut errors) = (0u64, 0u64, 0u64);
            for _ in 0..n {
                match std::fs::read(p) {
                    Ok(b) if b.windows(needle.len()).any(|w| w == needle) => hits += 1,
                    Ok(_) => other += 1,
                    Err(_) => errors += 1,
                }
            }
            data(format!("needle={hits} other={other} errors={errors}"));
            if hits > 0 {
                allowed(format!("read {p}: {hits} of {n} reads contained the needle"))
            } else {
                Verdict::Denied(format!("read {p}: none of {n} reads contained the needle"))
            }
        }
        "follow-symlink-read" => {
            let p = arg(rest, 0, "LINK");
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.file_type().is_symlink() => {}
                Ok(_) => usage(&format!("{p} is not a symlink")),
                Err(e) => return denied(format!("lstat {p}"), &e),
            }
            let target = std::fs::read_link(p).map(|t| t.display().to_string()).unwrap_or_default();
            match std::fs::read(p) {
                Ok(b) => allowed(format!("read {p} -> {target} ({} bytes)", b.len())),
                Err(e) => denied(format!("read {p} -> {target}"), &e),
            }
        }
        "write-file" => {
            let p = arg(rest, 0, "PATH");
            let content = rest.get(1).map(String::as_str).unwrap_or("written by mcpcell-probe\n");
            let r = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(p)
                .and_then(|mut f| f.write_all(content.as_bytes()));
            match r {
                Ok(()) => allowed(format!("wrote {} bytes to {p}", content.len())),
                Err(e) => denied(format!("write {p}"), &e),
            }
        }
        "open-many" => {
            // Open /dev/null N times and keep every fd: for the open-files limit.
            let n: usize = num(rest, 0, "N");
            let mut kept = Vec::with_capacity(n);
            for i in 0..n {
                match std::fs::File::open("/dev/null") {
                    Ok(f) => kept.push(f),
                    Err(e) => return denied(format!("open file {} of {n}", i + 1), &e),
                }
            }
            allowed(format!("{n} files open at once"))
        }
        "write-bytes" => {
            // N bytes in 64 KiB writes: for file-size limits (a big CONTENT argument would not fit
            // in argv).
            let p = arg(rest, 0, "PATH");
            let n: usize = num(rest, 1, "N");
            // SIGXFSZ would kill us before we could report EFBIG: take the errno instead. (The
            // test accepts either; ignoring it gives the clearer message.)
            // SAFETY: SIG_IGN installs no handler code; nothing here relies on SIGXFSZ's default action.
            unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
            let mut f = match std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(p) {
                Ok(f) => f,
                Err(e) => return denied(format!("open {p} for writing"), &e),
            };
            let chunk = vec![b'x'; 64 << 10];
            let mut done = 0;
            while done < n {
                let len = chunk.len().min(n - done);
                if let Err(e) = f.write_all(&chunk[..len]) {
                    return denied(format!("write byte {done} of {n} to {p}"), &e);
                }
                done += len;
            }
            allowed(format!("wrote {n} bytes to {p}"))
        }
        "create-file-in" => {
            let d = arg(rest, 0, "DIR");
            let name = format!(
                "{d}/mcpcell-probe-{}-{}",
                std::process::id(),
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            );
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&name) {
                Ok(_) => {
                    data(name.clone());
                    allowed(format!("created {name}"))
                }
                Err(e) => denied(format!("create a file in {d}"), &e),
            }
        }
        "list-dir" => {
            let p = arg(rest, 0, "PATH");
            match std::fs::read_dir(p) {
                Ok(rd) => {
                    let mut names: Vec<String> =
                        rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                    names.sort();
                    let n = names.len();
                    for name in names {
                        data(name);
                    }
                    allowed(format!("listed {p} ({n} entries)"))
                }
                Err(e) => denied(format!("list {p}"), &e),
            }
        }
        "stat" => {
            let p = arg(rest, 0, "PATH");
            match std::fs::symlink_metadata(p) {
                Ok(m) => allowed(format!("{p} exists ({:?})", m.file_type())),
                Err(e) => denied(format!("stat {p}"), &e),
            }
        }

        // ---------------------------------------------------------------- processes
        "link" => {
            let (old, new) = (arg(rest, 0, "OLD"), arg(rest, 1, "NEW"));
            let (o, n) = (cstr(old), cstr(new));
            // SAFETY: both are NUL-terminated paths that outlive the call.
            let r = unsafe { libc::link(o.as_ptr(), n.as_ptr()) };
            if r < 0 {
                denied(format!("link({old}, {new})"), &last_err())
            } else {
                allowed(format!("link({old}, {new})"))
            }
        }
        "rename" => {
            let (old, new) = (arg(rest, 0, "OLD"), arg(rest, 1, "NEW"));
            let (o, n) = (cstr(old), cstr(new));
            // SAFETY: both are NUL-terminated paths that outlive the call.
            let r = unsafe { libc::rename(o.as_ptr(), n.as_ptr()) };
            if r < 0 {
                denied(format!("rename({old}, {new})"), &last_err())
            } else {
                allowed(format!("rename({old}, {new})"))
            }
        }
        "read-via-fd" => {
            // Opens DIR as an O_PATH fd, then reads /proc/self/fd/N/REL: the magic link must not
            // lead anywhere DIR itself could not.
            let (dir, rel) = (arg(rest, 0, "DIR"), arg(rest, 1, "REL"));
            let d = cstr(dir);
            // SAFETY: `d` is a NUL-terminated path that outlives the call.
            let fd = unsafe { libc::open(d.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) };
            if fd < 0 {
                return denied(format!("open {dir}"), &last_err());
            }
            let via = format!("/proc/self/fd/{fd}/{rel}");
            let v = match std::fs::read(&via) {
                Ok(b) => allowed(format!("read {via} ({dir}/{rel}, {} bytes)", b.len())),
                Err(e) => denied(format!("read {via} ({dir}/{rel})"), &e),
            };
            close(fd as libc::c_long);
            v
        }
        "kill" => {
            let pid: i32 = num(rest, 0, "PID");
            let sig: i32 = num(rest, 1, "SIG");
            // SAFETY: kill takes plain integers and touches no memory; the probe exists to attempt this call.
            match check(unsafe { libc::kill(pid, sig) } as libc::c_long) {
                Ok(_) => allowed(format!("kill({pid}, {sig})")),
                Err(e) => denied(format!("kill({pid}, {sig})"), &e),
            }
        }
        "ptrace-attach" => {
            let pid: i32 = num(rest, 0, "PID");
            // SAFETY: PTRACE_ATTACH with null addr/data reads no memory of ours; the probe exists to attempt this call.
            let r = unsafe { libc::ptrace(libc::PTRACE_ATTACH, pid, 0usize, 0usize) };
            if r < 0 {
                return denied(format!("ptrace(PTRACE_ATTACH, {pid})"), &last_err());
            }
            let mut status = 0;
            // SAFETY: `status` is a live local for waitpid; PTRACE_DETACH with null addr/data reads nothing.
            unsafe {
                libc::waitpid(pid, &mut status, libc::__WALL);
                libc::ptrace(libc::PTRACE_DETACH, pid, 0usize, 0usize);
            }
            allowed(format!("ptrace(PTRACE_ATTACH, {pid}) and detached"))
        }
        "read-environ" => {
            let pid = arg(rest, 0, "PID");
            let p = format!("/proc/{pid}/environ");
            match std::fs::read(&p) {
                Ok(b) => {
                    let names: Vec<String> = b
                        .split(|c| *c == 0)
                        .filter(|s| !s.is_empty())
                        .map(|s| String::from_utf8_lossy(s.split(|c| *c == b'=').next().unwrap()).into_owned())
                        .collect();
                    allowed(format!("read {p} ({} bytes, variables: {})", b.len(), names.join(",")))
                }
                Err(e) => denied(format!("read {p}"), &e),
            }
        }
        "list-procs" => {
            let mut n = 0;
            let mut entries: Vec<(u32, String)> = Vec::new();
            match std::fs::read_dir("/proc") {
                Ok(rd) => {
                    for e in rd.flatten() {
                        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
                        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                            .map(|b| String::from_utf8_lossy(&b).replace('\0', " ").trim_end().to_string())
                            .unwrap_or_else(|e| format!("<{}>", describe(&e)));
                        entries.push((pid, cmd));
                        n += 1;
                    }
                }
                Err(e) => return denied("list /proc", &e),
            }
            entries.sort();
            for (pid, cmd) in entries {
                data(format!("{pid} {cmd}"));
            }
            allowed(format!("listed {n} processes"))
        }
        "find-string" => {
            // `hex:...` spells the needle in hex, so that it does not appear in any command line
            // (the probe's own, or a launcher's or cell init's that carries the probe's argv).
            let raw = arg(rest, 0, "STRING");
            let needle = match raw.strip_prefix("hex:") {
                Some(h) => match unhex(h) {
                    Some(b) => b,
                    None => usage("hex: needle is not valid hex"),
                },
                None => raw.as_bytes().to_vec(),
            };
            let me = std::process::id();
            let mut found = Vec::new();
            let mut scanned = 0;
            for (k, v) in std::env::vars_os() {
                if contains(k.as_bytes(), &needle) || contains(v.as_bytes(), &needle) {
                    found.push(format!("own environment variable {}", k.to_string_lossy()));
                }
            }
            if let Ok(rd) = std::fs::read_dir("/proc") {
                for e in rd.flatten() {
                    let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
                    for f in ["environ", "cmdline"] {
                        // Our own cmdline contains the needle by construction.
                        if pid == me && f == "cmdline" {
                            continue;
                        }
                        let p = format!("/proc/{pid}/{f}");
                        if let Ok(b) = std::fs::read(&p) {
                            scanned += 1;
                            if contains(&b, &needle) {
                                found.push(p);
                            }
                        }
                    }
                }
            }
            if found.is_empty() {
                Verdict::Denied(format!("string not found (scanned own env and {scanned} /proc files)"))
            } else {
                allowed(format!("string found in: {}", found.join(", ")))
            }
        }
        "scan-fds" => {
            // Opens every file descriptor of every *other* visible process through
            // /proc/PID/fd/N and looks for the needle in what it can read: a way to reach files
            // the cell was never granted but some process in it holds open.
            let raw = arg(rest, 0, "STRING|hex:HEX");
            let needle = match raw.strip_prefix("hex:") {
                Some(h) => unhex(h).unwrap_or_else(|| usage("hex: needle is not valid hex")),
                None => raw.as_bytes().to_vec(),
            };
            let me = std::process::id();
            let mut visible = Vec::new();
            let mut found = Vec::new();
            for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
                if pid == me {
                    continue;
                }
                for fd in std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten() {
                    let p = fd.path();
                    let target = std::fs::read_link(&p)
                        .map(|t| t.display().to_string())
                        .unwrap_or_else(|e| format!("<{}>", describe(&e)));
                    visible.push(format!("{} -> {target}", p.display()));
                    // Never block on pipes/sockets/ttys: non-blocking open, bounded read.
                    let c = cstr(&p.display().to_string());
                    // SAFETY: `c` is a NUL-terminated path that outlives the call.
                    let f = unsafe {
                        libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
                    };
                    if f < 0 {
                        continue;
                    }
                    let mut buf = vec![0u8; 1 << 20];
                    // SAFETY: `buf` outlives the call and its length is passed.
                    let n = unsafe { libc::pread(f, buf.as_mut_ptr().cast(), buf.len(), 0) };
                    // SAFETY: `f` was opened above and is not used afterwards.
                    unsafe { libc::close(f) };
                    if n > 0 && contains(&buf[..n as usize], &needle) {
                        found.push(format!("{} ({target})", p.display()));
                    }
                }
            }
            visible.into_iter().for_each(data);
            if found.is_empty() {
                Verdict::Denied("no other process's fd yielded the string".into())
            } else {
                allowed(format!("read the string through {}", found.join(", ")))
            }
        }
        "fork-bomb" => fork_bomb(num(rest, 0, "N")),
        "alloc-mb" => alloc_mb(num(rest, 0, "N")),
        "sleep" => {
            let secs: f64 = num(rest, 0, "SECS");
            std::thread::sleep(Duration::from_secs_f64(secs));
            allowed(format!("slept {secs} s"))
        }
        "spin-cpu" => {
            let secs: u64 = num(rest, 0, "SECS");
            let start = std::time::Instant::now();
            let mut x: u64 = 1;
            while start.elapsed() < Duration::from_secs(secs) {
                for _ in 0..1_000_000 {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                }
                std::hint::black_box(x);
            }
            allowed(format!("spun the CPU for {secs} s"))
        }
        "exit" => std::process::exit(num(rest, 0, "CODE")),

        // `without landlock|userns -- PROGRAM ARGS...`: run PROGRAM as if the host lacked the
        // feature (a seccomp filter answers the Landlock syscalls with ENOSYS, or namespace
        // creation with a user namespace with EPERM, as a kernel without them does), to show
        // mcpcell refuses to start rather than run with less isolation.
        "without" => {
            let feature = arg(rest, 0, "landlock|userns");
            if rest.get(1).map(String::as_str) != Some("--") || rest.len() < 3 {
                usage("without FEATURE -- PROGRAM ARGS...");
            }
            if let Err(e) = deny_feature(feature) {
                return denied(format!("installing the filter for {feature}"), &e);
            }
            let argv: Vec<std::ffi::CString> =
                rest[2..].iter().map(|a| std::ffi::CString::new(a.as_str()).unwrap_or_default()).collect();
            let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
            ptrs.push(std::ptr::null());
            // SAFETY: argv holds NUL-terminated strings that outlive the call; the array is
            // NULL-terminated. execv returns only on failure.
            unsafe { libc::execv(ptrs[0], ptrs.as_ptr()) };
            denied(format!("exec {}", rest[2]), &std::io::Error::last_os_error())
        }

        // ---------------------------------------------------------------- tty
        "tiocsti" => {
            let target = arg(rest, 0, "FD|PATH");
            let fd = match tty_fd(target) {
                Ok(fd) => fd,
                Err(v) => return v,
            };
            let c: u8 = b'#';
            // SAFETY: TIOCSTI only reads the byte `c`, a live local; the probe exists to attempt this call.
            let r = unsafe { libc::ioctl(fd, libc::TIOCSTI, &c as *const u8) };
            if r < 0 {
                denied(format!("ioctl({target}, TIOCSTI)"), &last_err())
            } else {
                allowed(format!("ioctl({target}, TIOCSTI) injected one byte"))
            }
        }

        "tiocsti-masked" => {
            // TIOCSTI with garbage in the upper 32 bits of the request: the kernel's ioctl takes an
            // `unsigned int cmd`, so this is still TIOCSTI; a filter comparing all 64 bits misses it.
            const MASKED_TIOCSTI: u64 = 0x1_0000_5412; // TIOCSTI (0x5412) | 1 << 32
            let target = arg(rest, 0, "FD|PATH");
            let fd = match tty_fd(target) {
                Ok(fd) => fd,
                Err(v) => return v,
            };
            let c: u8 = b'#';
            // SAFETY: raw ioctl whose request is TIOCSTI (low 32 bits), which only reads the byte
            // `c`, a live local; the probe exists to attempt this call.
            let r = unsafe { libc::syscall(libc::SYS_ioctl, fd as libc::c_long, MASKED_TIOCSTI, &c as *const u8) };
            match check(r) {
                Ok(_) => allowed(format!("ioctl({target}, {MASKED_TIOCSTI:#x}) injected one byte")),
                Err(e) => denied(format!("ioctl({target}, {MASKED_TIOCSTI:#x})"), &e),
            }
        }

        // ---------------------------------------------------------------- kernel attack surface
        "unshare-user" => unshare(libc::CLONE_NEWUSER, "CLONE_NEWUSER"),
        "unshare-mount" => unshare(libc::CLONE_NEWNS, "CLONE_NEWNS"),
        "unshare-net" => unshare(libc::CLONE_NEWNET, "CLONE_NEWNET"),
        "clone-newuser" => {
            // clone(2) with a namespace flag, not unshare(2): the child exits at once.
            // SAFETY: fork-like clone (no CLONE_VM, null stack: the child runs on a copy of ours) and
            // the child only calls _exit; the probe exists to attempt this call.
            let pid = unsafe {
                libc::syscall(
                    libc::SYS_clone,
                    (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong,
                    0usize,
                    0usize,
                    0usize,
                    0usize,
                )
            };
            match check(pid) {
                // SAFETY: in the clone child: _exit ends it at once without touching Rust state.
                Ok(0) => unsafe { libc::_exit(0) },
                Ok(pid) => {
                    // SAFETY: waitpid accepts a null status pointer; `pid` is our child.
                    unsafe { libc::waitpid(pid as i32, std::ptr::null_mut(), 0) };
                    allowed("clone(CLONE_NEWUSER)")
                }
                Err(e) => denied("clone(CLONE_NEWUSER)", &e),
            }
        }
        "setns" => {
            let p = arg(rest, 0, "PATH");
            let c = cstr(p);
            // SAFETY: `c` is a NUL-terminated path that outlives the call.
            let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            if fd < 0 {
                return denied(format!("open {p}"), &last_err());
            }
            // SAFETY: setns takes an fd and flags and touches no memory; the probe exists to attempt this call.
            match check(unsafe { libc::setns(fd, 0) } as libc::c_long) {
                Ok(_) => allowed(format!("setns({p})")),
                Err(e) => denied(format!("setns({p})"), &e),
            }
        }
        "mount-tmpfs" => {
            let d = arg(rest, 0, "DIR");
            let target = cstr(d);
            let src = cstr("tmpfs");
            // SAFETY: `src` and `target` are NUL-terminated and outlive the call, data is null;
            // the probe exists to attempt this call.
            let r = unsafe {
                libc::mount(
                    src.as_ptr(),
                    target.as_ptr(),
                    src.as_ptr(),
                    libc::MS_NOSUID | libc::MS_NODEV,
                    std::ptr::null(),
                )
            };
            if r < 0 {
                return denied(format!("mount(tmpfs, {d})"), &last_err());
            }
            // Leave no trace (this also runs as the positive control on the host).
            // SAFETY: `target` is a NUL-terminated path that outlives the call.
            unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
            allowed(format!("mount(tmpfs, {d}) (and unmounted it again)"))
        }
        "fsopen" => {
            let fs = cstr("tmpfs");
            const FSOPEN_CLOEXEC: libc::c_uint = 1;
            // SAFETY: the kernel only reads `fs`, a C string we own; the probe exists to attempt this call.
            match check(unsafe { libc::syscall(libc::SYS_fsopen, fs.as_ptr(), FSOPEN_CLOEXEC) }) {
                Ok(fd) => {
                    close(fd);
                    allowed("fsopen(\"tmpfs\")")
                }
                Err(e) => denied("fsopen(\"tmpfs\")", &e),
            }
        }
        "open-tree" => {
            let root = cstr("/");
            const OPEN_TREE_CLONE: libc::c_uint = 1;
            let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
            // SAFETY: the kernel only reads `root`, a C string we own; the probe exists to attempt this call.
            match check(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, root.as_ptr(), flags) }) {
                Ok(fd) => {
                    close(fd);
                    allowed("open_tree(\"/\", OPEN_TREE_CLONE)")
                }
                Err(e) => denied("open_tree(\"/\", OPEN_TREE_CLONE)", &e),
            }
        }
        "bpf" => {
            // union bpf_attr for BPF_MAP_CREATE: map_type, key_size, value_size, max_entries, ...
            let mut attr = [0u32; 32];
            attr[0] = 2; // BPF_MAP_TYPE_ARRAY
            attr[1] = 4; // key_size
            attr[2] = 4; // value_size
            attr[3] = 1; // max_entries
            const BPF_MAP_CREATE: libc::c_long = 0;
            // SAFETY: the kernel only reads `attr`, a bpf_attr we own whose size is passed;
            // the probe exists to attempt this call.
            let r =
                unsafe { libc::syscall(libc::SYS_bpf, BPF_MAP_CREATE, attr.as_ptr(), std::mem::size_of_val(&attr)) };
            match check(r) {
                Ok(fd) => {
                    close(fd);
                    allowed("bpf(BPF_MAP_CREATE, array)")
                }
                Err(e) => denied("bpf(BPF_MAP_CREATE, array)", &e),
            }
        }
        "keyctl" => {
            const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
            // SAFETY: JOIN_SESSION_KEYRING with a null name reads no memory; the probe exists to attempt this call.
            let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0usize) };
            match check(r) {
                Ok(id) => allowed(format!("keyctl(KEYCTL_JOIN_SESSION_KEYRING) -> key {id}")),
                Err(e) => denied("keyctl(KEYCTL_JOIN_SESSION_KEYRING)", &e),
            }
        }
        "keyctl-session-to-parent" => {
            // The classic trick: a child replaces its parent's session keyring. The probe forks so
            // that the parent is the (single-threaded, same-credential) probe itself; the child
            // reports the syscall's result through its exit status.
            const KEYCTL_SESSION_TO_PARENT: libc::c_long = 18;
            // SAFETY: the probe is single-threaded, so the child may run arbitrary code; it only
            // makes one syscall and calls _exit.
            let pid = unsafe { libc::fork() };
            if pid < 0 {
                return denied("fork", &last_err());
            }
            if pid == 0 {
                // SAFETY: SESSION_TO_PARENT takes no pointers; the probe exists to attempt this call.
                let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_SESSION_TO_PARENT) };
                let code = if r < 0 { last_err().raw_os_error().unwrap_or(255).min(254) } else { 0 };
                // SAFETY: _exit ends the forked child without running the parent's destructors.
                unsafe { libc::_exit(code) };
            }
            let mut status = 0;
            // SAFETY: `status` is a live local out-pointer; `pid` is our child.
            if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
                return denied("waitpid", &last_err());
            }
            if libc::WIFSIGNALED(status) {
                let sig = libc::WTERMSIG(status);
                return Verdict::Denied(format!("keyctl(KEYCTL_SESSION_TO_PARENT): child killed by signal {sig}"));
            }
            match libc::WEXITSTATUS(status) {
                0 => allowed("keyctl(KEYCTL_SESSION_TO_PARENT) -> 0"),
                n => denied("keyctl(KEYCTL_SESSION_TO_PARENT)", &std::io::Error::from_raw_os_error(n)),
            }
        }
        "io-uring-setup" => {
            let mut params = [0u8; 120]; // struct io_uring_params, all zero

            // SAFETY: `params` is a zeroed io_uring_params (120 bytes) we own;
            // the probe exists to attempt this call.
            match check(unsafe { libc::syscall(libc::SYS_io_uring_setup, 8u32, params.as_mut_ptr()) }) {
                Ok(fd) => {
                    close(fd);
                    allowed("io_uring_setup(8)")
                }
                Err(e) => denied("io_uring_setup(8)", &e),
            }
        }
        "perf-event-open" => {
            // struct perf_event_attr (128 bytes, zero-padded): a software CPU clock counter on
            // ourselves with exclude_kernel|exclude_hv, which perf_event_paranoid <= 2 lets any
            // unprivileged process open — so only a seccomp policy can refuse it.
            let mut attr = [0u8; 128];
            attr[0..4].copy_from_slice(&1u32.to_ne_bytes()); // PERF_TYPE_SOFTWARE
            attr[4..8].copy_from_slice(&128u32.to_ne_bytes()); // size
            attr[8..16].copy_from_slice(&0u64.to_ne_bytes()); // PERF_COUNT_SW_CPU_CLOCK
            let flags: u64 = 1 | (1 << 5) | (1 << 6); // disabled | exclude_kernel | exclude_hv
            attr[40..48].copy_from_slice(&flags.to_ne_bytes());
            const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
            // SAFETY: the kernel only reads `attr`, a perf_event_attr we own; the probe exists to attempt this call.
            let r = unsafe {
                libc::syscall(libc::SYS_perf_event_open, attr.as_ptr(), 0i32, -1i32, -1i32, PERF_FLAG_FD_CLOEXEC)
            };
            match check(r) {
                Ok(fd) => {
                    close(fd);
                    allowed("perf_event_open(software cpu-clock, self)")
                }
                Err(e) => denied("perf_event_open(software cpu-clock, self)", &e),
            }
        }
        "userfaultfd" => {
            // UFFD_USER_MODE_ONLY is allowed to unprivileged processes whatever
            // vm.unprivileged_userfaultfd says — so only a seccomp policy can refuse it.
            const UFFD_USER_MODE_ONLY: libc::c_int = 1;
            // SAFETY: userfaultfd takes only flags and touches no memory; the probe exists to attempt this call.
            let r = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | UFFD_USER_MODE_ONLY) };
            match check(r) {
                Ok(fd) => {
                    close(fd);
                    allowed("userfaultfd(UFFD_USER_MODE_ONLY)")
                }
                Err(e) => denied("userfaultfd(UFFD_USER_MODE_ONLY)", &e),
            }
        }
        "personality-no-aslr" => {
            // personality(ADDR_NO_RANDOMIZE): turns off ASLR for what this process execs next, a
            // classic exploit helper ("personality tricks" in DESIGN.md).
            const ADDR_NO_RANDOMIZE: libc::c_ulong = 0x0040000;
            // SAFETY: personality(0xffffffff) only queries the current persona.
            let before = unsafe { libc::personality(0xffff_ffff) };
            // SAFETY: personality takes a flag word and touches no memory; the probe exists to attempt this call.
            let r = unsafe { libc::personality(ADDR_NO_RANDOMIZE) };
            if r < 0 {
                return denied("personality(ADDR_NO_RANDOMIZE)", &last_err());
            }
            // SAFETY: personality(0xffffffff) only queries the current persona.
            let now = unsafe { libc::personality(0xffff_ffff) };
            if now == before {
                Verdict::Denied("personality(ADDR_NO_RANDOMIZE): call returned but had no effect".into())
            } else {
                allowed(format!("personality changed from {before:#x} to {now:#x}"))
            }
        }

        "i386-syscall" => i386_getpid(),

        // ---------------------------------------------------------------- network
        "tcp-connect" => {
            let target = arg(rest, 0, "HOST:PORT");
            let addr = match resolve(target) {
                Ok(a) => a,
                Err(e) => return denied(format!("resolve {target}"), &e),
            };
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
                Ok(mut s) => {
                    let _ = s.write_all(b"mcpcell-probe\n");
                    allowed(format!("TCP connect to {target}"))
                }
                Err(e) => denied(format!("TCP connect to {target}"), &e),
            }
        }
        "udp-echo" => {
            let target = arg(rest, 0, "HOST:PORT");
            let addr = match resolve(target) {
                Ok(a) => a,
                Err(e) => return denied(format!("resolve {target}"), &e),
            };
            let bind = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
            let sock = match std::net::UdpSocket::bind(bind) {
                Ok(s) => s,
                Err(e) => return denied("UDP bind", &e),
            };
            let _ = sock.set_read_timeout(Some(Duration::from_secs(2)));
            if let Err(e) = sock.send_to(b"mcpcell-probe-ping", addr) {
                return denied(format!("UDP send to {target}"), &e);
            }
            let mut buf = [0u8; 256];
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => allowed(format!("UDP echo from {from}: {n} bytes")),
                Err(e) => denied(format!("UDP reply from {target}"), &e),
            }
        }
        "bind-abstract" => {
            let name = arg(rest, 0, "NAME");
            let addr = match abstract_addr(name) {
                Ok(a) => a,
                Err(e) => return denied(format!("abstract address @{name}"), &e),
            };
            match UnixListener::bind_addr(&addr) {
                Ok(_l) => allowed(format!("bound abstract unix socket @{name}")),
                Err(e) => denied(format!("bind abstract unix socket @{name}"), &e),
            }
        }
        "connect-abstract" => {
            let name = arg(rest, 0, "NAME");
            let addr = match abstract_addr(name) {
                Ok(a) => a,
                Err(e) => return denied(format!("abstract address @{name}"), &e),
            };
            match UnixStream::connect_addr(&addr) {
                Ok(mut s) => {
                    let _ = s.write_all(b"mcpcell-probe\n");
                    allowed(format!("connected to abstract unix socket @{name}"))
                }
                Err(e) => denied(format!("connect to abstract unix socket @{name}"), &e),
            }
        }
        "connect-unix" => {
            let p = arg(rest, 0, "PATH");
            match UnixStream::connect(p) {
                Ok(mut s) => {
                    let _ = s.write_all(b"GET /version HTTP/1.0\r\n\r\n");
                    allowed(format!("connected to unix socket {p}"))
                }
                Err(e) => denied(format!("connect to unix socket {p}"), &e),
            }
        }
        "list-netdevs" => match std::fs::read_dir("/sys/class/net") {
            Ok(rd) => {
                let mut v: Vec<String> = rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                v.sort();
                let n = v.len();
                v.into_iter().for_each(data);
                allowed(format!("listed {n} network devices"))
            }
            Err(_) => {
                // /sys may be absent in the cell: fall back to /proc/net/dev.
                match std::fs::read_to_string("/proc/net/dev") {
                    Ok(s) => {
                        let v: Vec<String> = s
                            .lines()
                            .skip(2)
                            .filter_map(|l| l.split(':').next())
                            .map(|n| n.trim().to_string())
                            .collect();
                        let n = v.len();
                        v.into_iter().for_each(data);
                        allowed(format!("listed {n} network devices"))
                    }
                    Err(e) => denied("list network devices", &e),
                }
            }
        },

        // ---------------------------------------------------------------- egress
        "resolve" => {
            let name = arg(rest, 0, "NAME");
            let (family, fname) = match rest.get(1).map(String::as_str).unwrap_or("any") {
                "any" => (libc::AF_UNSPEC, "any"),
                "inet" => (libc::AF_INET, "inet"),
                "inet6" => (libc::AF_INET6, "inet6"),
                other => usage(&format!("FAMILY must be any, inet or inet6, not {other:?}")),
            };
            match getaddrinfo(name, family) {
                Ok(addrs) if !addrs.is_empty() => {
                    let n = addrs.len();
                    addrs.iter().for_each(|a| data(a.to_string()));
                    allowed(format!("resolved {name} ({fname}) to {n} address(es)"))
                }
                Ok(_) => Verdict::Denied(format!("resolve {name} ({fname}): no address")),
                Err(e) => Verdict::Denied(format!("resolve {name} ({fname}): {e}")),
            }
        }
        "http-get" => {
            let name = arg(rest, 0, "NAME");
            let port: u16 = num(rest, 1, "PORT");
            let path = arg(rest, 2, "PATH");
            let host = rest.get(3).cloned().unwrap_or_else(|| format!("{name}:{port}"));
            let what = format!("GET http://{name}:{port}{path} (Host: {host})");
            let (mut s, addr) = match connect_name(name, port) {
                Ok(x) => x,
                Err(e) => return Verdict::Denied(format!("{what}: {e}")),
            };
            data(format!("connected: {addr}"));
            let req = format!(
                "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: mcpcell-probe\r\nConnection: close\r\n\r\n"
            );
            if let Err(e) = s.write_all(req.as_bytes()) {
                return denied(format!("{what}: send"), &e);
            }
            http_verdict(&what, read_all(&mut s))
        }
        "tls-hello" => {
            let name = arg(rest, 0, "NAME");
            let port: u16 = num(rest, 1, "PORT");
            let sni = arg(rest, 2, "SNI");
            let what = format!("TLS ClientHello (SNI {sni}) to {name}:{port}");
            let (mut s, addr) = match connect_name(name, port) {
                Ok(x) => x,
                Err(e) => return Verdict::Denied(format!("{what}: {e}")),
            };
            data(format!("connected: {addr}"));
            if let Err(e) = s.write_all(&client_hello(sni)) {
                return denied(format!("{what}: send"), &e);
            }
            match read_all(&mut s) {
                (b, _) if !b.is_empty() => {
                    data(format!("received: {}", String::from_utf8_lossy(&b).trim_end()));
                    allowed(format!("{what}: {} bytes came back", b.len()))
                }
                (_, None) => Verdict::Denied(format!("{what}: connection closed with no data")),
                (_, Some(e)) => denied(format!("{what}: no data"), &e),
            }
        }
        "proxy-connect" => {
            let proxy = arg(rest, 0, "PROXYHOST:PORT");
            let target = arg(rest, 1, "HOST:PORT");
            let what = format!("CONNECT {target} through {proxy}");
            let mut s = match resolve(proxy).and_then(|a| std::net::TcpStream::connect_timeout(&a, IO_TIMEOUT)) {
                Ok(s) => s,
                Err(e) => return denied(format!("{what}: connect to the proxy"), &e),
            };
            let _ = s.set_read_timeout(Some(IO_TIMEOUT));
            let req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
            if let Err(e) = s.write_all(req.as_bytes()) {
                return denied(format!("{what}: send"), &e);
            }
            let head = match read_head(&mut s) {
                Ok(h) if !h.is_empty() => h,
                Ok(_) => return Verdict::Denied(format!("{what}: the proxy closed the connection with no answer")),
                Err(e) => return denied(format!("{what}: proxy answer"), &e),
            };
            let status =
                String::from_utf8_lossy(head.split(|c| *c == b'\n').next().unwrap_or(b"")).trim_end().to_string();
            data(format!("proxy: {status}"));
            if status.split_whitespace().nth(1) != Some("200") {
                return Verdict::Denied(format!("{what}: the proxy answered {status}"));
            }
            let req = format!(
                "GET /tunnel HTTP/1.1\r\nHost: {target}\r\nUser-Agent: mcpcell-probe\r\nConnection: close\r\n\r\n"
            );
            if let Err(e) = s.write_all(req.as_bytes()) {
                return denied(format!("{what}: send through the tunnel"), &e);
            }
            http_verdict(&format!("{what}, then GET /tunnel"), read_all(&mut s))
        }
        "proxy-get" => {
            let proxy = arg(rest, 0, "PROXYHOST:PORT");
            let url = arg(rest, 1, "URL");
            let Some(hostport) = url.strip_prefix("http://").map(|r| r.split('/').next().unwrap_or(r)) else {
                usage("URL must start with http://");
            };
            let what = format!("GET {url} through {proxy}");
            let mut s = match resolve(proxy).and_then(|a| std::net::TcpStream::connect_timeout(&a, IO_TIMEOUT)) {
                Ok(s) => s,
                Err(e) => return denied(format!("{what}: connect to the proxy"), &e),
            };
            let _ = s.set_read_timeout(Some(IO_TIMEOUT));
            let req = format!(
                "GET {url} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: mcpcell-probe\r\nConnection: close\r\n\r\n"
            );
            if let Err(e) = s.write_all(req.as_bytes()) {
                return denied(format!("{what}: send"), &e);
            }
            http_verdict(&what, read_all(&mut s))
        }

        // ---------------------------------------------------------------- self
        "print-env" => {
            let mut vars: Vec<String> =
                std::env::vars_os().map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())).collect();
            vars.sort();
            let n = vars.len();
            vars.into_iter().for_each(data);
            allowed(format!("{n} environment variables"))
        }
        "whoami" => {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            for l in status.lines() {
                let key = l.split(':').next().unwrap_or("");
                if matches!(
                    key,
                    "Uid"
                        | "Gid"
                        | "Groups"
                        | "CapInh"
                        | "CapPrm"
                        | "CapEff"
                        | "CapBnd"
                        | "CapAmb"
                        | "NoNewPrivs"
                        | "Seccomp"
                        | "Seccomp_filters"
                ) {
                    data(l.replace('\t', " "));
                }
            }
            for f in ["uid_map", "gid_map", "setgroups"] {
                let s = std::fs::read_to_string(format!("/proc/self/{f}"))
                    .unwrap_or_else(|e| format!("<{}>", describe(&e)));
                for l in s.lines() {
                    data(format!("{f}: {}", l.split_whitespace().collect::<Vec<_>>().join(" ")));
                }
            }
            // SAFETY: getsid has no preconditions.
            let sid = unsafe { libc::getsid(0) };
            // SAFETY: getpgid has no preconditions.
            let pgid = unsafe { libc::getpgid(0) };
            data(format!("Pid: {}", std::process::id()));
            data(format!("Sid: {sid}"));
            data(format!("Pgid: {pgid}"));
            let tty = cstr("/dev/tty");
            // SAFETY: `tty` is a NUL-terminated path that outlives the call.
            let fd = unsafe { libc::open(tty.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
            if fd >= 0 {
                data("ControllingTty: yes");
                // SAFETY: `fd` was opened above and is not used afterwards.
                unsafe { libc::close(fd) };
            } else {
                data(format!("ControllingTty: no ({})", describe(&last_err())));
            }
            // SAFETY: getuid and getgid have no preconditions.
            allowed(format!("uid={} gid={}", unsafe { libc::getuid() }, unsafe { libc::getgid() }))
        }
        "list-fds" => match std::fs::read_dir("/proc/self/fd") {
            Ok(rd) => {
                // The directory handle itself shows up in the listing: report it separately.
                let mut fds: Vec<(i32, String)> = Vec::new();
                for e in rd.flatten() {
                    let Ok(fd) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
                    let target = std::fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default();
                    fds.push((fd, target));
                }
                fds.sort();
                let mut shown = Vec::new();
                for (fd, target) in fds {
                    // The ReadDir's own fd points at /proc/<pid>/fd.
                    if target.starts_with("/proc/") && target.ends_with("/fd") && fd > 2 {
                        continue;
                    }
                    shown.push(fd.to_string());
                    data(format!("{fd} -> {target}"));
                }
                allowed(format!("open fds: {}", shown.join(",")))
            }
            Err(e) => denied("list /proc/self/fd", &e),
        },
        other => usage(&format!("unknown action {other:?}")),
    }
}

fn unhex(h: &str) -> Option<Vec<u8>> {
    if h.len() % 2 != 0 {
        return None;
    }
    (0..h.len()).step_by(2).map(|i| u8::from_str_radix(h.get(i..i + 2)?, 16).ok()).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fn unshare(flag: libc::c_int, name: &str) -> Verdict {
    // SAFETY: unshare takes flags only and touches no memory; the probe exists to attempt this call.
    match check(unsafe { libc::unshare(flag) } as libc::c_long) {
        Ok(_) => allowed(format!("unshare({name})")),
        Err(e) => denied(format!("unshare({name})"), &e),
    }
}

fn resolve(target: &str) -> std::io::Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    target.to_socket_addrs()?.next().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
}

// ------------------------------------------------------------------------------------- egress

/// How long the egress actions wait for a connect or for data.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// getaddrinfo(NAME, NULL) restricted to `family`, SOCK_STREAM. Errors are `EAI_* (text)`.
fn getaddrinfo(name: &str, family: libc::c_int) -> Result<Vec<std::net::IpAddr>, String> {
    let c = cstr(name);
    // SAFETY: addrinfo is a plain C struct for which all-zero is a valid "no hints" value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: `c` is NUL-terminated and outlives the call, `hints` is initialised, `res` is a valid
    // out-pointer; the list is freed below.
    let rc = unsafe { libc::getaddrinfo(c.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 {
        let name = match rc {
            -2 => "EAI_NONAME",
            -3 => "EAI_AGAIN",
            -4 => "EAI_FAIL",
            -5 => "EAI_NODATA",
            -6 => "EAI_FAMILY",
            -11 => "EAI_SYSTEM",
            _ => "EAI_?",
        };
        // SAFETY: gai_strerror returns a pointer to a static NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(rc)) }.to_string_lossy().into_owned();
        return Err(format!("{name} ({text})"));
    }
    let mut out = Vec::new();
    let mut p = res;
    while !p.is_null() {
        // SAFETY: `p` is a node of the list getaddrinfo returned, not yet freed.
        let ai = unsafe { &*p };
        if !ai.ai_addr.is_null() {
            match ai.ai_family {
                libc::AF_INET => {
                    // SAFETY: for AF_INET, ai_addr points at a sockaddr_in.
                    let sin = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in) };
                    out.push(std::net::IpAddr::from(u32::from_be(sin.sin_addr.s_addr).to_be_bytes()));
                }
                libc::AF_INET6 => {
                    // SAFETY: for AF_INET6, ai_addr points at a sockaddr_in6.
                    let sin6 = unsafe { &*(ai.ai_addr as *const libc::sockaddr_in6) };
                    out.push(std::net::IpAddr::from(sin6.sin6_addr.s6_addr));
                }
                _ => {}
            }
        }
        p = ai.ai_next;
    }
    // SAFETY: `res` came from a successful getaddrinfo and is freed exactly once.
    unsafe { libc::freeaddrinfo(res) };
    out.dedup();
    Ok(out)
}

/// Resolves NAME (getaddrinfo, as any C program would) and connects to the first address that
/// accepts, like a typical client.
fn connect_name(name: &str, port: u16) -> Result<(std::net::TcpStream, std::net::SocketAddr), String> {
    let addrs = getaddrinfo(name, libc::AF_UNSPEC).map_err(|e| format!("resolve {name}: {e}"))?;
    if addrs.is_empty() {
        return Err(format!("resolve {name}: no address"));
    }
    let mut last = String::new();
    for ip in addrs {
        let sa = std::net::SocketAddr::new(ip, port);
        match std::net::TcpStream::connect_timeout(&sa, IO_TIMEOUT) {
            Ok(s) => {
                let _ = s.set_read_timeout(Some(IO_TIMEOUT));
                return Ok((s, sa));
            }
            Err(e) => last = format!("connect to {sa}: {}", describe(&e)),
        }
    }
    Err(last)
}

/// Reads until EOF, an error or the read timeout; returns the bytes and the error (None at EOF).
fn read_all(s: &mut std::net::TcpStream) -> (Vec<u8>, Option<std::io::Error>) {
    use std::io::Read;
    let mut v = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (v, None),
            Ok(n) => v.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (v, Some(e)),
        }
    }
}

/// Reads an HTTP response head (up to the blank line) byte by byte, so that nothing after it is
/// consumed. Returns what was read at EOF.
fn read_head(s: &mut std::net::TcpStream) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut v = Vec::new();
    let mut b = [0u8; 1];
    while !v.ends_with(b"\r\n\r\n") && v.len() < 16384 {
        match s.read(&mut b) {
            Ok(0) => break,
            Ok(_) => v.push(b[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(v)
}

/// ALLOWED with the status line and the body as data when a 2xx HTTP response came back; DENIED
/// when the connection ended (EOF, reset, timeout) with no data, or the answer was not HTTP or
/// not 2xx (a proxy's 403). The status line and body are data lines either way.
fn http_verdict(what: &str, (resp, err): (Vec<u8>, Option<std::io::Error>)) -> Verdict {
    if resp.is_empty() {
        return match err {
            None => Verdict::Denied(format!("{what}: connection closed with no data")),
            Some(e) => denied(format!("{what}: no response"), &e),
        };
    }
    let text = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("").to_string();
    data(format!("status: {status}"));
    for l in body.lines() {
        data(l.to_string());
    }
    if !status.starts_with("HTTP/1.") {
        return Verdict::Denied(format!("{what}: not an HTTP response: {status:?}"));
    }
    if status.split_whitespace().nth(1).is_some_and(|code| code.starts_with('2')) {
        allowed(format!("{what}: {status}"))
    } else {
        Verdict::Denied(format!("{what}: answered {status}"))
    }
}

/// A minimal but well-formed TLS 1.2/1.3 ClientHello record carrying a server_name extension.
fn client_hello(sni: &str) -> Vec<u8> {
    fn u16be(n: usize) -> [u8; 2] {
        (n as u16).to_be_bytes()
    }
    let name = sni.as_bytes();
    // server_name extension: list of one host_name entry.
    let mut sni_ext = Vec::new();
    sni_ext.extend_from_slice(&u16be(name.len() + 3));
    sni_ext.push(0); // host_name
    sni_ext.extend_from_slice(&u16be(name.len()));
    sni_ext.extend_from_slice(name);
    let mut exts = Vec::new();
    exts.extend_from_slice(&[0x00, 0x00]);
    exts.extend_from_slice(&u16be(sni_ext.len()));
    exts.extend_from_slice(&sni_ext);
    // supported_versions: TLS 1.3, 1.2.
    exts.extend_from_slice(&[0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03]);
    // supported_groups: x25519, secp256r1.
    exts.extend_from_slice(&[0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17]);
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256.
    exts.extend_from_slice(&[0x00, 0x0d, 0x00, 0x08, 0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01]);
    let mut body = vec![0x03, 0x03]; // legacy_version TLS 1.2
    body.extend((0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(11))); // random
    body.push(0); // legacy_session_id: empty
    let suites = [0x13, 0x01, 0x13, 0x02, 0xc0, 0x2b, 0xc0, 0x2f];
    body.extend_from_slice(&u16be(suites.len()));
    body.extend_from_slice(&suites);
    body.extend_from_slice(&[0x01, 0x00]); // compression: null
    body.extend_from_slice(&u16be(exts.len()));
    body.extend_from_slice(&exts);
    let mut hs = vec![0x01]; // ClientHello
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&u16be(hs.len()));
    rec.extend_from_slice(&hs);
    rec
}

fn abstract_addr(name: &str) -> std::io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(OsStr::new(name).as_bytes())
}

/// Forks up to `n` children that sleep until killed. Reports how many forks succeeded; DENIED if
/// the kernel refused a fork before `n`. All children are killed and reaped before returning.
fn fork_bomb(n: usize) -> Verdict {
    let mut kids = Vec::with_capacity(n);
    let mut failure = None;
    for _ in 0..n {
        // SAFETY: the probe is single-threaded and the child only calls async-signal-safe functions before _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: in the forked child: prctl, pause and _exit are async-signal-safe and touch no Rust state.
            unsafe {
                // Children die with us even if the parent is killed mid-loop.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                libc::pause();
                libc::_exit(0);
            }
        }
        if pid < 0 {
            failure = Some(last_err());
            break;
        }
        kids.push(pid);
    }
    let made = kids.len();
    for &pid in &kids {
        // SAFETY: kill takes plain integers; `pid` is a child we forked.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    for &pid in &kids {
        // SAFETY: waitpid accepts a null status pointer; `pid` is our child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }
    match failure {
        None => allowed(format!("forked {made} of {n} children")),
        Some(e) => denied(format!("fork stopped after {made} of {n} children"), &e),
    }
}

/// Maps and touches `n` MiB. DENIED when the mapping is refused (RLIMIT_AS); when a cgroup limit
/// applies instead the kernel OOM-kills the probe, which the caller sees as death by SIGKILL.
fn alloc_mb(n: usize) -> Verdict {
    let len = n << 20;
    // SAFETY: a fresh private anonymous mapping at a kernel-chosen address aliases nothing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return denied(format!("mmap {n} MiB"), &last_err());
    }
    let base = p as *mut u8;
    let mut i = 0;
    while i < len {
        // SAFETY: `i < len`, so `base + i` lies inside the live read-write mapping.
        unsafe { std::ptr::write_volatile(base.add(i), 1) };
        i += 4096;
    }
    // Read something back so nothing is optimised away.
    let mut sum = 0u64;
    let mut i = 0;
    while i < len {
        // SAFETY: `i < len`, so `base + i` lies inside the live mapping, written above.
        sum += unsafe { std::ptr::read_volatile(base.add(i)) } as u64;
        i += 1 << 20;
    }
    // SAFETY: unmaps exactly the mapping made above; `base` is not used afterwards.
    unsafe { libc::munmap(p, len) };
    allowed(format!("touched {n} MiB ({sum} MiB checked)"))
}

/// getpid through the i386 entry point (`int 0x80`, syscall 20): a seccomp filter written for
/// x86_64 numbers alone can be bypassed through it unless the policy checks the architecture.
#[cfg(target_arch = "x86_64")]
fn i386_getpid() -> Verdict {
    let mut ret: i64 = 20; // __NR_getpid on i386

    // SAFETY: i386 getpid takes no arguments and touches no user memory; the result comes back in
    // rax, and r8-r11 are declared clobbered (older kernels did not preserve them on int 0x80).
    unsafe {
        std::arch::asm!(
            "int 0x80",
            inout("rax") ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
            options(nostack)
        );
    }
    let me = std::process::id() as i64;
    if ret == me {
        allowed(format!("i386 getpid via int 0x80 returned {ret}"))
    } else if ret < 0 && ret > -4096 {
        denied("i386 getpid via int 0x80", &std::io::Error::from_raw_os_error(-ret as i32))
    } else {
        Verdict::Denied(format!("i386 getpid via int 0x80 returned {ret}, not our pid {me}"))
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn i386_getpid() -> Verdict {
    usage("i386-syscall only exists on x86_64")
}
