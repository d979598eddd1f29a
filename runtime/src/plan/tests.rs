//! The plan, pinned: a profile and a set of host facts in, the exact cell out.

use super::*;
use mcpcell_profiles::{parse_str, LoadContext, Origin};

fn ctx() -> LoadContext {
    LoadContext { home: "/home/ada".into(), profile_dirs: vec![], check_paths: false }
}

fn profile(toml: &str) -> Profile {
    match parse_str(toml, Origin::File("t.toml".into()), &ctx()) {
        Ok(p) => p,
        Err(e) => panic!("test profile does not parse: {e}"),
    }
}

fn dir(path: &str) -> HostEntry {
    HostEntry { path: path.into(), kind: EntryKind::Dir }
}

fn host(grants: Vec<ResolvedGrant>) -> ResolvedHost {
    ResolvedHost {
        identity: Identity { uid: 1000, gid: 1000, user: "ada".into(), home: "/home/ada".into() },
        program: "/usr/bin/mcp-server-filesystem".into(),
        program_canonical: "/usr/lib/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js".into(),
        system: vec![dir("/usr"), HostEntry { path: "/bin".into(), kind: EntryKind::Symlink("usr/bin".into()) }],
        etc: vec![dir("/etc/ssl"), HostEntry { path: "/etc/nsswitch.conf".into(), kind: EntryKind::File }],
        devices: vec!["/dev/null".into()],
        grants,
        skipped_optional: vec![],
        secrets: crate::secrets::Secrets::fixed(vec![("GITHUB_TOKEN".into(), SecretValue::new("s3cr3t-value".into()))]),
        lock_path: "/home/ada/.config/mcpcell/locks/t.lock.json".into(),
        lockfile: None,
    }
}

fn grant(path: &str, writable: bool) -> ResolvedGrant {
    ResolvedGrant {
        requested: path.into(),
        path: path.into(),
        is_dir: true,
        writable,
        id: crate::pathfd::FileId { dev: 1, ino: path.len() as u64 },
    }
}

const FS_PROFILE: &str = r#"
[server]
command = "mcp-server-filesystem"
args = ["/home/ada/docs"]
env = { LOG_LEVEL = "info" }

[filesystem]
read = ["~/docs"]
write = ["~/docs/out"]

[limits]
memory = "512MiB"
pids = 64
tmpfs_size = "32MiB"
"#;

#[test]
fn mounts_are_exact_and_ordered() {
    let p = profile(FS_PROFILE);
    let plan = plan(&p, &host(vec![grant("/home/ada/docs", false), grant("/home/ada/docs/out", true)])).unwrap();
    let t = 32 << 20;
    let bind =
        |src: &str, writable| MountOp::Bind { src: src.into(), dest: src.into(), is_dir: true, writable, id: None };
    // Grants carry the identity they were resolved to (the test's `grant` makes one up).
    let granted = |src: &str, writable| MountOp::Bind {
        src: src.into(),
        dest: src.into(),
        is_dir: true,
        writable,
        id: Some(crate::pathfd::FileId { dev: 1, ino: src.len() as u64 }),
    };
    let expected = vec![
        MountOp::Tmpfs { dest: "/".into(), size: 4 << 20, mode: 0o755 },
        bind("/usr", false),
        MountOp::Symlink { target: "usr/bin".into(), dest: "/bin".into() },
        bind("/etc/ssl", false),
        MountOp::Copy { src: "/etc/nsswitch.conf".into(), dest: "/etc/nsswitch.conf".into() },
        MountOp::File {
            dest: "/etc/passwd".into(),
            contents:
                "ada:x:1000:1000:ada:/home/ada:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                    .into(),
            mode: 0o644,
        },
        MountOp::File { dest: "/etc/group".into(), contents: "ada:x:1000:\nnogroup:x:65534:\n".into(), mode: 0o644 },
        MountOp::File { dest: "/etc/hostname".into(), contents: "mcpcell\n".into(), mode: 0o644 },
        MountOp::File {
            dest: "/etc/hosts".into(),
            contents: "127.0.0.1\tlocalhost mcpcell\n::1\tlocalhost\n".into(),
            mode: 0o644,
        },
        MountOp::File {
            dest: "/etc/resolv.conf".into(),
            contents: "# mcpcell: no DNS in this cell\n".into(),
            mode: 0o644,
        },
        MountOp::Tmpfs { dest: "/dev".into(), size: 64 << 10, mode: 0o755 },
        MountOp::Bind { src: "/dev/null".into(), dest: "/dev/null".into(), is_dir: false, writable: true, id: None },
        MountOp::Symlink { target: "/proc/self/fd".into(), dest: "/dev/fd".into() },
        MountOp::Symlink { target: "/proc/self/fd/0".into(), dest: "/dev/stdin".into() },
        MountOp::Symlink { target: "/proc/self/fd/1".into(), dest: "/dev/stdout".into() },
        MountOp::Symlink { target: "/proc/self/fd/2".into(), dest: "/dev/stderr".into() },
        MountOp::Tmpfs { dest: "/dev/shm".into(), size: t, mode: 0o1777 },
        MountOp::Proc { dest: "/proc".into() },
        MountOp::Tmpfs { dest: "/tmp".into(), size: t, mode: 0o1777 },
        MountOp::Tmpfs { dest: "/home/ada".into(), size: t, mode: 0o700 },
        granted("/home/ada/docs", false),
        granted("/home/ada/docs/out", true),
        MountOp::RemountReadOnly { dest: "/".into() },
    ];
    assert_eq!(plan.mounts.ops, expected);
}

#[test]
fn a_grant_above_home_is_mounted_before_the_private_home() {
    let p = profile("[server]\ncommand = \"x\"\n[filesystem]\nread = [\"/home\"]\n");
    let plan = plan(&p, &host(vec![grant("/home", false)])).unwrap();
    let dests: Vec<_> = plan.mounts.ops.iter().map(|op| op.dest().display().to_string()).collect();
    let home_grant = dests.iter().position(|d| d == "/home").unwrap();
    let private_home = dests.iter().position(|d| d == "/home/ada").unwrap();
    assert!(home_grant < private_home, "{dests:?}");
}

#[test]
fn landlock_mirrors_the_mounts() {
    let p = profile(FS_PROFILE);
    let plan = plan(&p, &host(vec![grant("/home/ada/docs", false), grant("/home/ada/docs/out", true)])).unwrap();
    let paths = |v: &[std::path::PathBuf]| v.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
    assert_eq!(paths(&plan.landlock.read_exec), ["/usr", "/etc", "/proc", "/dev", "/home/ada/docs"]);
    assert_eq!(paths(&plan.landlock.read_write), ["/tmp", "/home/ada", "/dev/shm", "/home/ada/docs/out"]);
    assert_eq!(paths(&plan.landlock.devices), ["/dev/null"]);
    assert!(plan.landlock.tcp_connect.is_empty() && plan.landlock.tcp_bind.is_empty());
    assert!(plan.landlock.scope_signals && plan.landlock.scope_abstract_unix);
    assert_eq!(plan.landlock.min_abi, 1);
    assert!(super::landlock::covers_all_binds(&plan.landlock, &plan.mounts.ops));
}

#[test]
fn environment_is_built_not_inherited() {
    let p = profile(FS_PROFILE);
    let plan = plan(&p, &host(vec![grant("/home/ada/docs", false), grant("/home/ada/docs/out", true)])).unwrap();
    let env: Vec<(&str, &str)> = plan.exec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        env,
        [
            ("PATH", CELL_PATH),
            ("HOME", "/home/ada"),
            ("USER", "ada"),
            ("LOGNAME", "ada"),
            ("TMPDIR", "/tmp"),
            ("LANG", "C.UTF-8"),
            ("LOG_LEVEL", "info"),
            ("GITHUB_TOKEN", "s3cr3t-value"),
        ]
    );
    assert_eq!(plan.exec.secret_env, ["GITHUB_TOKEN"]);
    assert_eq!(plan.exec.argv, ["mcp-server-filesystem", "/home/ada/docs"]);
    assert_eq!(plan.exec.cwd, std::path::Path::new("/home/ada"));
}

#[test]
fn secrets_never_show_in_debug_output() {
    let p = profile(FS_PROFILE);
    let h = host(vec![grant("/home/ada/docs", false), grant("/home/ada/docs/out", true)]);
    let plan = plan(&p, &h).unwrap();
    for text in [format!("{h:?}"), format!("{plan:?}")] {
        assert!(!text.contains("s3cr3t-value"), "secret leaked into Debug output");
    }
    assert!(format!("{plan:?}").contains("GITHUB_TOKEN"), "the secret's name should still be visible");
}

#[test]
fn file_delivered_secrets_are_a_read_only_bind_a_read_only_landlock_rule_and_a_path_variable() {
    let p = profile(
        "[server]\ncommand = \"srv\"\n[secrets.TOKEN]\nsource = \"env:T\"\ndelivery = \"file\"\nttl_secs = 60\n",
    );
    let mut h = host(vec![]);
    h.secrets = crate::secrets::Secrets::described(&p.secrets);
    let plan = plan(&p, &h).unwrap();
    let files = plan.secret_files.as_ref().expect("a secret-files plan");
    assert_eq!(files.cell_dir, std::path::Path::new("/run/mcpcell/secrets"));
    let bind = plan.mounts.ops.iter().find(|op| op.dest() == files.cell_dir).expect("the directory is bound");
    assert_eq!(
        *bind,
        MountOp::Bind {
            src: files.host_dir.clone(),
            dest: files.cell_dir.clone(),
            is_dir: true,
            writable: false,
            id: None
        }
    );
    assert!(plan.landlock.read_exec.contains(&files.cell_dir), "Landlock lets the server read it");
    assert!(!plan.landlock.read_write.iter().any(|r| files.cell_dir.starts_with(r)), "and nothing writable covers it");
    let env: Vec<(&str, &str)> = plan.exec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert!(env.contains(&("TOKEN_FILE", "/run/mcpcell/secrets/TOKEN")), "{env:?}");
    assert!(!env.iter().any(|(k, _)| *k == "TOKEN"), "the value itself is not in the environment");
    assert!(plan.relay.is_some(), "the relay runs to redact what the server sends back");
}

#[test]
fn limits_become_rlimits_and_cgroup_values() {
    let p = profile(FS_PROFILE);
    let plan = plan(&p, &host(vec![grant("/home/ada/docs", false), grant("/home/ada/docs/out", true)])).unwrap();
    assert_eq!(
        plan.limits.rlimits,
        [
            (Rlimit::Core, 0),
            (Rlimit::Data, 512 << 20),
            (Rlimit::FileSize, 1 << 30),
            (Rlimit::NoFile, 1024),
            (Rlimit::NProc, 64),
        ]
    );
    assert_eq!((plan.limits.cgroup_pids, plan.limits.cgroup_memory_bytes), (64, 512 << 20));
}

#[test]
fn egress_plans_the_stub_the_proxy_env_and_the_landlock_ports() {
    let p = profile("[server]\ncommand = \"x\"\n[network]\negress = [\"api.github.com\", \"*.example.com:8443\"]\n");
    let plan = plan(&p, &host(vec![])).unwrap();
    let allow = plan.egress.as_ref().expect("an allowlist");
    assert_eq!(allow.ports(), [443, 8443]);
    assert_eq!(plan.landlock.tcp_connect, [443, 8443, 3128]);
    assert!(plan.landlock.tcp_bind.is_empty());
    let env: Vec<(&str, &str)> = plan.exec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        assert!(env.contains(&(var, "http://127.0.0.1:3128")), "{var} missing from {env:?}");
    }
    let resolv = plan.mounts.ops.iter().find_map(|op| match op {
        MountOp::File { dest, contents, .. } if dest.ends_with("resolv.conf") => Some(contents.clone()),
        _ => None,
    });
    assert_eq!(resolv.as_deref(), Some("# mcpcell: answers only the profile's egress hosts\nnameserver 127.0.0.1\n"));
}

#[test]
fn no_egress_means_no_resolver_no_proxy_and_no_tcp() {
    let p = profile("[server]\ncommand = \"x\"\n");
    let plan = plan(&p, &host(vec![])).unwrap();
    assert!(plan.egress.is_none());
    assert!(plan.landlock.tcp_connect.is_empty());
    assert!(!plan.exec.env.iter().any(|(k, _)| k.to_ascii_lowercase().contains("proxy")));
}

#[test]
fn container_plan_is_the_jail_cell_as_engine_settings() {
    let p = profile(
        "[server]\ncommand = \"x\"\n[sandbox]\nbackend = \"container\"\n[limits]\nmemory = \"256MiB\"\npids = 64\ntmpfs_size = \"8MiB\"\n",
    );
    let plan = plan(&p, &host(vec![grant("/home/ada/notes", false), grant("/srv/out", true)])).unwrap();
    let c = plan.container.expect("a container plan");
    let bind = |src: &str, dest: &str, writable: bool| ContainerBind { src: src.into(), dest: dest.into(), writable };
    assert_eq!(
        c,
        ContainerPlan {
            image: base_image(),
            user: "1000:1000".into(),
            binds: vec![
                bind("/usr", "/usr", false),
                bind("/etc/ssl", "/etc/ssl", false),
                bind("/etc/nsswitch.conf", "/etc/nsswitch.conf", false),
                // Shallower first, as in the jail: a narrower grant lands on top.
                bind("/srv/out", "/srv/out", true),
                bind("/home/ada/notes", "/home/ada/notes", false),
            ],
            files: plan
                .mounts
                .ops
                .iter()
                .filter_map(|op| match op {
                    MountOp::File { dest, contents, .. } => Some((dest.clone(), contents.clone())),
                    _ => None,
                })
                .collect(),
            tmpfs: vec![
                ("/tmp".into(), format!("size={},mode=1777", 8 << 20)),
                ("/home/ada".into(), format!("size={},mode=700,uid=1000,gid=1000", 8 << 20)),
            ],
            shm_bytes: 8 << 20,
            memory_bytes: 256 << 20,
            pids: 64,
            ulimits: vec![("nofile".into(), 1024), ("nproc".into(), 64)],
            required_symlinks: vec![("/bin".into(), "usr/bin".into())],
        }
    );
    assert_eq!(c.files.len(), 5, "passwd, group, hostname, hosts, resolv.conf");
    // The devices (/dev/null) and /proc come from the engine; nothing under them is bound.
    assert!(!c.binds.iter().any(|b| b.dest.starts_with("/dev") || b.dest.starts_with("/proc")));
}

#[test]
fn a_root_launcher_runs_the_container_as_nobody() {
    let p = profile("[server]\ncommand = \"x\"\n[sandbox]\nbackend = \"container\"\n");
    let mut h = host(vec![]);
    h.identity = Identity { uid: 0, gid: 0, user: "root".into(), home: "/root".into() };
    let plan = plan(&p, &h).unwrap();
    let c = plan.container.expect("a container plan");
    assert_eq!(c.user, "65534:65534");
    assert_eq!(plan.identity.uid, 65534);
    assert!(c.tmpfs.iter().any(|(d, o)| d == Path::new("/root") && o.ends_with(",uid=65534,gid=65534")));
    let passwd = c.files.iter().find(|(d, _)| d == Path::new("/etc/passwd")).map(|(_, t)| t.as_str());
    assert_eq!(passwd, Some("nobody:x:65534:65534:nobody:/root:/bin/sh\n"));
}

#[test]
fn the_jail_has_no_container_plan() {
    let p = profile("[server]\ncommand = \"x\"\n");
    assert_eq!(plan(&p, &host(vec![])).unwrap().container, None);
}

#[test]
fn container_egress_plans_the_same_stub_and_ports_as_the_jail() {
    let toml = "[server]\ncommand = \"x\"\n[network]\negress = [\"example.com\"]\n";
    let jail = plan(&profile(toml), &host(vec![])).unwrap();
    let container = plan(&profile(&format!("{toml}[sandbox]\nbackend = \"container\"\n")), &host(vec![])).unwrap();
    assert_eq!(container.egress, jail.egress);
    assert_eq!(container.landlock.tcp_connect, jail.landlock.tcp_connect);
    let resolv = container.container.unwrap().files.into_iter().find(|(d, _)| d == Path::new("/etc/resolv.conf"));
    assert_eq!(
        resolv.map(|(_, t)| t),
        Some("# mcpcell: answers only the profile's egress hosts\nnameserver 127.0.0.1\n".into())
    );
}

#[test]
fn a_command_outside_every_mount_is_refused_with_the_fix() {
    let p = profile("[server]\ncommand = \"x\"\n");
    let mut h = host(vec![]);
    h.program = "/opt/tool/bin/x".into();
    match plan(&p, &h) {
        Err(e @ RuntimeError::CommandNotVisible { .. }) => {
            assert!(e.to_string().contains("--read /opt/tool/bin"), "{e}")
        }
        other => panic!("expected CommandNotVisible, got {other:?}"),
    }
}

#[test]
fn visibility_follows_planned_symlinks_and_binds() {
    let p = profile("[server]\ncommand = \"x\"\n");
    let plan = plan(&p, &host(vec![])).unwrap();
    assert!(plan.mounts.is_visible("/bin/sh".as_ref()), "/bin -> usr/bin must resolve into the /usr bind");
    assert!(plan.mounts.is_visible("/usr/lib/x".as_ref()));
    assert!(plan.mounts.is_visible("/home/ada".as_ref()), "the private home exists");
    assert!(!plan.mounts.is_visible("/home/ada/.ssh/id_rsa".as_ref()), "nothing of the host home");
    assert!(!plan.mounts.is_visible("/root".as_ref()));
    assert!(!plan.mounts.is_visible("/etc/shadow".as_ref()));
}

#[test]
fn seccomp_policy_covers_the_design_list() {
    let policy = SeccompPolicy::default_deny();
    let names: Vec<&str> = policy.deny.iter().map(|d| d.name).collect();
    for required in [
        "ptrace",
        "process_vm_readv",
        "process_vm_writev",
        "mount",
        "umount2",
        "pivot_root",
        "move_mount",
        "open_tree",
        "fsopen",
        "fsconfig",
        "fsmount",
        "fspick",
        "mount_setattr",
        "unshare",
        "setns",
        "clone",
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "perf_event_open",
        "io_uring_setup",
        "io_uring_enter",
        "io_uring_register",
        "userfaultfd",
        "kexec_load",
        "kexec_file_load",
        "open_by_handle_at",
        "personality",
        "ioctl",
    ] {
        assert!(names.contains(&required), "{required} missing from the seccomp deny list");
    }
    let ioctl = policy.deny.iter().find(|d| d.name == "ioctl").unwrap();
    assert_eq!(ioctl.when, ArgMatch::Low32Equals { index: 1, values: vec![0x5412, 0x541C] });
    let clone = policy.deny.iter().find(|d| d.name == "clone").unwrap();
    assert_eq!(clone.when, ArgMatch::AnyBitsSet { index: 0, mask: 0x7E02_0000 });
    assert_eq!(policy.enosys, [("clone3", libc::SYS_clone3)]);
    assert!(policy.deny_x32);
}

#[test]
fn seccomp_policy_compiles() {
    let prog = crate::jail::compile_seccomp(&SeccompPolicy::default_deny()).unwrap();
    assert!(prog.len() > 50, "suspiciously small filter: {} instructions", prog.len());
    let guard = crate::jail::seccomp_guard(&SeccompPolicy::default_deny());
    assert_eq!(guard.len(), 6, "load nr, x32 check + ret, clone3 check + ret, allow");
}
