//! The shim: a forked launcher process that builds the container through the engine, pumps
//! stdio over the attach connection, forwards signals, and exits with the server's status.
//! It dies with the launcher (PDEATHSIG); its attach connection closing then closes the
//! container's stdin, which the container's init takes as the signal to stop the server.

use super::{engine, image};
use crate::jail::Stdio;
use crate::plan::{
    ContainerPlan, CONTAINER_FALLBACK_ID, CONTAINER_INIT_PATH, LABEL_LAUNCHER, LABEL_PARENT, LABEL_PROFILE,
};
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig, Mount, MountBindOptions, MountType};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptionsBuilder, KillContainerOptionsBuilder,
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Everything the shim needs, prepared by the launcher before the fork.
pub(super) struct Job {
    pub profile: String,
    pub container: ContainerPlan,
    /// The init's first line (contains secret values: only ever written to the attach stream).
    pub init_line: Vec<u8>,
    pub seccomp: String,
    pub init_binary: PathBuf,
    pub stdio: Stdio,
    /// The launcher's egress control socket, bound into the container for its netd.
    pub egress_socket: Option<PathBuf>,
    /// The profile's shutdown grace period (for a teardown after the launcher died).
    pub grace: std::time::Duration,
    /// The launcher's pid, to notice it is gone.
    pub launcher: nix::unistd::Pid,
}

/// Sent to the shim when the launcher dies (PDEATHSIG): not one of the forwarded signals, so
/// it cannot be confused with a signal meant for the server.
fn launcher_gone_signal() -> i32 {
    libc::SIGRTMIN() + 3
}

/// A start failure: exit code and message for the launcher.
type Failure = (i32, String);

/// The shim's life; never returns.
pub(super) fn run(job: Job, report: OwnedFd) -> ! {
    let code = match shim(job, report) {
        Ok(code) => code,
        Err(code) => code,
    };
    // SAFETY: leaving the forked process without running the launcher's destructors.
    unsafe { libc::_exit(code) }
}

fn shim(job: Job, report: OwnedFd) -> Result<i32, i32> {
    let mut report = Some(report);
    let fail = |report: &mut Option<OwnedFd>, (code, message): Failure| -> i32 {
        if let Some(fd) = report.take() {
            let _ = std::io::Write::write_all(&mut std::fs::File::from(fd), format!("{code}\t{message}").as_bytes());
        } else {
            eprintln!("mcpcell: container: {message}");
        }
        code
    };
    // Keep only our stdio and the report pipe: a copy of the relay's other pipe ends here
    // would keep the server's stdin from ever reaching EOF.
    let mut keep = vec![2];
    keep.extend(job.stdio.fds.map(|f| f.to_vec()).unwrap_or_else(|| vec![0, 1]));
    keep.extend(report.as_ref().map(std::os::fd::AsRawFd::as_raw_fd));
    crate::jail::process::close_all_but(&keep);
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return Err(fail(&mut report, (125, format!("tokio runtime: {e}")))),
    };
    let result = rt.block_on(async move {
        // When the launcher dies we are told (not killed), so that the container is stopped
        // and removed, not left behind. The handler is in place before we ask for the signal.
        let launcher_gone =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(launcher_gone_signal())) {
                Ok(s) => s,
                Err(e) => return Err(fail(&mut report, (125, format!("launcher-death signal: {e}")))),
            };
        // SAFETY: integer-only prctl.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, launcher_gone_signal() as libc::c_ulong, 0, 0, 0) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(fail(&mut report, (125, format!("PR_SET_PDEATHSIG: {e}"))));
        }
        let mut started = Started::default();
        let result = session(&job, &mut report, &mut started, launcher_gone).await;
        started.cleanup().await;
        result.map_err(|f| fail(&mut report, f))
    });
    // A blocking read of the client's stdin may still be pending: do not wait for it.
    rt.shutdown_background();
    result
}

/// What to undo on the way out.
#[derive(Default)]
struct Started {
    docker: Option<Docker>,
    container: Option<String>,
    files_dir: Option<PathBuf>,
}

impl Started {
    async fn cleanup(self) {
        if let (Some(docker), Some(id)) = (&self.docker, &self.container) {
            // Removed here once its status is read (force: it may still be running after an error).
            let _ = docker.remove_container(id, Some(RemoveContainerOptionsBuilder::new().force(true).build())).await;
        }
        if let Some(dir) = &self.files_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

async fn session(
    job: &Job,
    report: &mut Option<OwnedFd>,
    started: &mut Started,
    launcher_gone: tokio::signal::unix::Signal,
) -> Result<i32, Failure> {
    let refused = |m: String| (125, m);
    let docker = engine::connect().await.map_err(refused)?;
    started.docker = Some(docker.clone());
    reap_stale(&docker).await;

    let c = &job.container;
    if !image::exists(&docker, &c.image).await.map_err(refused)? {
        if c.image == image::reference("base") {
            eprintln!("mcpcell: building the base image {} (first use; `mcpcell image build base`)", c.image);
            image::build(&docker, "base", &image::BuildOptions::default(), &mut |line| {
                eprintln!("mcpcell: image: {line}")
            })
            .await
            .map_err(refused)?;
        } else {
            return Err(refused(format!(
                "image {} is not present in the engine; build it with `mcpcell image build` (mcpcell never pulls)",
                c.image
            )));
        }
    }
    check_writable_grants(c).map_err(refused)?;

    let name = container_name(&job.profile);
    let files_dir = runtime_dir().join("containers").join(&name);
    started.files_dir = Some(files_dir.clone());
    create_private_dir(&files_dir).map_err(refused)?;
    let mounts = mounts(c, job, &files_dir).map_err(refused)?;
    // Docker takes the profile itself; Podman's compatibility API takes a path to it.
    let podman = engine::is_podman(&docker).await.map_err(refused)?;
    let seccomp = if podman {
        let file = files_dir.join("seccomp.json");
        std::fs::write(&file, &job.seccomp).map_err(|e| refused(format!("{}: {e}", file.display())))?;
        file.display().to_string()
    } else {
        job.seccomp.clone()
    };

    let mut labels = HashMap::new();
    labels.insert(LABEL_LAUNCHER.to_string(), launcher_label(std::process::id()).unwrap_or_default());
    labels.insert(LABEL_PROFILE.to_string(), job.profile.clone());
    labels.insert(LABEL_PARENT.to_string(), job.launcher.to_string());
    let host = HostConfig {
        readonly_rootfs: Some(true),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges:true".into(), format!("seccomp={seccomp}")]),
        privileged: Some(false),
        network_mode: Some("none".into()),
        ipc_mode: Some("private".into()),
        // Docker on cgroup v1 defaults to the host's cgroup namespace.
        cgroupns_mode: Some(bollard::models::HostConfigCgroupnsModeEnum::PRIVATE),
        pids_limit: Some(i64::try_from(c.pids).unwrap_or(i64::MAX)),
        ulimits: Some(
            c.ulimits
                .iter()
                .map(|(name, v)| {
                    let v = i64::try_from(*v).unwrap_or(i64::MAX);
                    bollard::models::ResourcesUlimits { name: Some(name.clone()), soft: Some(v), hard: Some(v) }
                })
                .collect(),
        ),
        memory: Some(i64::try_from(c.memory_bytes).unwrap_or(i64::MAX)),
        memory_swap: Some(i64::try_from(c.memory_bytes).unwrap_or(i64::MAX)),
        shm_size: Some(i64::try_from(c.shm_bytes).unwrap_or(i64::MAX)),
        tmpfs: Some(c.tmpfs.iter().map(|(d, o)| (d.display().to_string(), tmpfs_options(o, podman))).collect()),
        mounts: Some(mounts),
        // Removed by us once its status is read (an auto-removed container can be gone before
        // its status is asked for); one left by a killed shim is reaped at the next start.
        auto_remove: Some(false),
        // netd binds the DNS stub (53) and forwarders (443...) with no capability, in the
        // container's own network namespace only.
        sysctls: job
            .egress_socket
            .as_ref()
            .map(|_| HashMap::from([("net.ipv4.ip_unprivileged_port_start".to_string(), "0".to_string())])),
        init: Some(false),
        // The stdio stream is MCP traffic (and may carry secrets): never written to disk.
        log_config: Some(HostConfigLogConfig { typ: Some("none".into()), config: None }),
        ..Default::default()
    };
    let body = ContainerCreateBody {
        image: Some(c.image.clone()),
        user: Some(c.user.clone()),
        hostname: Some("mcpcell".into()),
        entrypoint: Some(vec![CONTAINER_INIT_PATH.into(), "__container-init".into()]),
        cmd: Some(vec![]),
        env: Some(vec![]),
        // Not set: the engine would create it before the tmpfs is mounted there, and the tmpfs
        // would take its mode (0755); the init changes directory itself.
        attach_stdin: Some(true),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        open_stdin: Some(true),
        stdin_once: Some(true),
        tty: Some(false),
        network_disabled: Some(true),
        labels: Some(labels),
        host_config: Some(host),
        ..Default::default()
    };
    let created = docker
        .create_container(Some(CreateContainerOptionsBuilder::new().name(&name).build()), body)
        .await
        .map_err(|e| refused(format!("creating container {name}: {e}")))?;
    let id = created.id;
    started.container = Some(id.clone());
    tracing::debug!(container = %name, id = %id, "container created");

    let attach = docker
        .attach_container(
            &id,
            Some(AttachContainerOptionsBuilder::new().stdin(true).stdout(true).stderr(true).stream(true).build()),
        )
        .await
        .map_err(|e| refused(format!("attaching to {name}: {e}")))?;
    docker.start_container(&id, None).await.map_err(|e| refused(format!("starting {name}: {e}")))?;
    // "not-running" after the start: answers at once if the server has already exited.
    let mut wait =
        docker.wait_container(&id, Some(WaitContainerOptionsBuilder::new().condition("not-running").build()));
    // Started: from here on the server's own stderr carries its problems.
    drop(report.take());

    let (in_fd, out_fd, err_fd) = match job.stdio.fds {
        Some([i, o, e]) => (i, o, e),
        None => (0, 1, 2),
    };
    let mut input = attach.input;
    let mut output = attach.output;
    let init_line = job.init_line.clone();
    let stdin_pump = tokio::spawn(async move {
        input.write_all(&init_line).await?;
        input.flush().await?;
        let mut from = tokio::fs::File::from_std(dup_file(in_fd)?);
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = from.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            input.write_all(&buf[..n]).await?;
            input.flush().await?;
        }
        // Half-close: the engine closes the container's stdin (stdin_once), the server sees EOF.
        input.shutdown().await
    });
    let output_pump = tokio::spawn(async move {
        let mut out = tokio::fs::File::from_std(dup_file(out_fd)?);
        let mut err = tokio::fs::File::from_std(dup_file(err_fd)?);
        while let Some(item) = output.next().await {
            match item {
                Ok(bollard::container::LogOutput::StdOut { message }) => {
                    out.write_all(&message).await?;
                    out.flush().await?;
                }
                Ok(bollard::container::LogOutput::StdErr { message }) => {
                    err.write_all(&message).await?;
                    err.flush().await?;
                }
                Ok(_) => {}
                Err(e) => return Err(std::io::Error::other(e.to_string())),
            }
        }
        Ok::<_, std::io::Error>(())
    });

    let code = forward_signals(&docker, &id, &mut wait, launcher_gone, job).await;
    stdin_pump.abort();
    // The last bytes the server wrote before exiting.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), output_pump).await;
    Ok(code)
}

async fn wait_for_exit(
    wait: &mut (impl futures_util::Stream<Item = Result<bollard::models::ContainerWaitResponse, bollard::errors::Error>>
              + Unpin),
) -> i32 {
    match wait.next().await {
        Some(Ok(r)) => i32::try_from(r.status_code).unwrap_or(125),
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => i32::try_from(code).unwrap_or(125),
        Some(Err(e)) => {
            eprintln!("mcpcell: container: waiting for the container: {e}");
            125
        }
        None => 125,
    }
}

/// Forward the launcher's signals (it sends them to us, as to a jail's init) to the
/// container's init, which forwards them to the server. Returns once the container exits.
async fn forward_signals(
    docker: &Docker,
    id: &str,
    wait: &mut (impl futures_util::Stream<Item = Result<bollard::models::ContainerWaitResponse, bollard::errors::Error>>
              + Unpin),
    mut launcher_gone: tokio::signal::unix::Signal,
    job: &Job,
) -> i32 {
    use tokio::signal::unix::{signal, SignalKind};
    // The teardown after the launcher died: SIGTERM now, SIGKILL after the grace period.
    let mut teardown: Option<tokio::time::Instant> = None;
    let kill = |sig: &'static str| async move {
        let _ = docker.kill_container(id, Some(KillContainerOptionsBuilder::new().signal(sig).build())).await;
    };
    if nix::unistd::getppid() != job.launcher {
        // Gone before the signal was asked for.
        kill("SIGTERM").await;
        teardown = Some(tokio::time::Instant::now() + job.grace);
    }
    let kinds = [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::quit(), "SIGQUIT"),
        (SignalKind::user_defined1(), "SIGUSR1"),
        (SignalKind::user_defined2(), "SIGUSR2"),
    ];
    let mut streams = Vec::new();
    for (kind, name) in kinds {
        match signal(kind) {
            Ok(s) => streams.push((s, name)),
            Err(e) => eprintln!("mcpcell: container: cannot forward {name}: {e}"),
        }
    }
    // The launcher blocked these before forking us; handlers are in place, let them in.
    let mut set = nix::sys::signal::SigSet::empty();
    for s in crate::supervise::FORWARDED {
        set.add(s);
    }
    let _ = nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_UNBLOCK, Some(&set), None);
    loop {
        let recv = futures_util::future::select_all(streams.iter_mut().map(|(s, name)| {
            let name = *name;
            Box::pin(async move { s.recv().await.map(|_| name) })
        }));
        tokio::select! {
            (got, _, _) = recv => {
                if let Some(name) = got {
                    tracing::debug!(signal = name, "forwarding signal to the container");
                    let opts = KillContainerOptionsBuilder::new().signal(name).build();
                    let _ = docker.kill_container(id, Some(opts)).await;
                }
            }
            _ = launcher_gone.recv(), if teardown.is_none() => {
                tracing::debug!("the launcher is gone: stopping the container");
                kill("SIGTERM").await;
                teardown = Some(tokio::time::Instant::now() + job.grace);
            }
            _ = tokio::time::sleep_until(teardown.unwrap_or_else(tokio::time::Instant::now)), if teardown.is_some() => {
                kill("SIGKILL").await;
                teardown = None;
            }
            code = wait_for_exit(wait) => return code,
        }
    }
}

fn dup_file(fd: i32) -> std::io::Result<std::fs::File> {
    let raw = nix::unistd::dup(fd).map_err(std::io::Error::from)?;
    // SAFETY: dup returned a fresh fd that nothing else owns.
    Ok(unsafe { std::fs::File::from_raw_fd(raw) })
}

/// The engine's mounts: the plan's binds, the generated files, and the init binary.
fn mounts(c: &ContainerPlan, job: &Job, files_dir: &Path) -> Result<Vec<Mount>, String> {
    let bind = |src: &Path, dest: &Path, writable: bool| Mount {
        source: Some(src.display().to_string()),
        target: Some(dest.display().to_string()),
        typ: Some(MountType::BIND),
        read_only: Some(!writable),
        bind_options: Some(MountBindOptions {
            propagation: Some(bollard::models::MountBindOptionsPropagationEnum::RPRIVATE),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut out = Vec::new();
    // A read-only bind is only read-only at its top on engines before Docker 25 (no recursive
    // read-only): bind it non-recursively, then each mount beneath it read-only on top, so a
    // writable host mount under a read grant is visible but never writable.
    let submounts = host_mount_points();
    for b in &c.binds {
        let mut m = bind(&b.src, &b.dest, b.writable);
        if !b.writable {
            if let Some(opts) = m.bind_options.as_mut() {
                opts.non_recursive = Some(true);
            }
            out.push(m);
            let engine_owned = |p: &Path| ["/proc", "/sys", "/dev"].iter().any(|r| p.starts_with(r));
            for sub in submounts.iter().filter(|p| p.starts_with(&b.src) && *p != &b.src && !engine_owned(p)) {
                let dest = b.dest.join(sub.strip_prefix(&b.src).unwrap_or(sub));
                let mut m = bind(sub, &dest, false);
                if let Some(opts) = m.bind_options.as_mut() {
                    opts.non_recursive = Some(true);
                }
                out.push(m);
            }
        } else {
            out.push(m);
        }
    }
    for (i, (dest, contents)) in c.files.iter().enumerate() {
        let file = files_dir.join(format!("{i}-{}", dest.file_name().and_then(|n| n.to_str()).unwrap_or("file")));
        std::fs::write(&file, contents).map_err(|e| format!("{}: {e}", file.display()))?;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        out.push(bind(&file, dest, false));
    }
    out.push(bind(&job.init_binary, Path::new(CONTAINER_INIT_PATH), false));
    if let Some(socket) = &job.egress_socket {
        out.push(bind(socket, Path::new(super::init::EGRESS_SOCKET), false));
    }
    Ok(out)
}

/// Podman refuses `uid=`/`gid=` on a tmpfs; its `U` gives the tmpfs to the container's user,
/// which is the uid/gid the plan names.
fn tmpfs_options(options: &str, podman: bool) -> String {
    if !podman {
        return options.to_string();
    }
    let mut out: Vec<&str> = options.split(',').filter(|o| !o.starts_with("uid=") && !o.starts_with("gid=")).collect();
    if out.len() != options.split(',').count() {
        out.push("U");
    }
    out.join(",")
}

/// Every mount point of this (the host's) mount namespace, in mount order.
fn host_mount_points() -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else { return Vec::new() };
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| {
            PathBuf::from(p.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\"))
        })
        .collect()
}

/// Create `dir` (fresh: its name must not exist yet) under [`runtime_dir`], every level 0700.
/// An existing level must be a real directory owned by us that no one else may write: under a shared
/// `/tmp` another user could otherwise have made it first and swap what we write there.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    let base = runtime_dir();
    let rel = dir.strip_prefix(&base).map_err(|_| format!("{} is not under {}", dir.display(), base.display()))?;
    let mut level = base.clone();
    let mut levels = vec![base];
    for part in rel.components() {
        level = level.join(part);
        levels.push(level.clone());
    }
    let last = levels.len() - 1;
    for (i, level) in levels.iter().enumerate() {
        match std::fs::DirBuilder::new().mode(0o700).create(level) {
            Ok(()) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && i != last => {}
            Err(e) => return Err(format!("creating {}: {e}", level.display())),
        }
        // mkdir does not follow a symlink at the last component; lstat does not either.
        let meta = std::fs::symlink_metadata(level).map_err(|e| format!("{}: {e}", level.display()))?;
        let ours = meta.uid() == nix::unistd::geteuid().as_raw();
        if !meta.is_dir() || !ours || meta.mode() & 0o022 != 0 {
            return Err(format!(
                "{} is not a private directory of this user (a directory owned by uid {} that no one else may write); \
                 remove it, or set XDG_RUNTIME_DIR to a directory only you can write",
                level.display(),
                nix::unistd::geteuid()
            ));
        }
    }
    Ok(())
}

/// Where generated files live while a container runs: private to the invoking user.
pub(crate) fn runtime_dir() -> PathBuf {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        return PathBuf::from("/run/mcpcell");
    }
    match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(dir) => dir.join("mcpcell"),
        None => std::env::temp_dir().join(format!("mcpcell-{uid}")),
    }
}

fn container_name(profile: &str) -> String {
    let clean: String = profile
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .take(40)
        .collect();
    let mut random = [0u8; 4];
    let _ = getrandom(&mut random);
    format!("mcpcell-{clean}-{}-{}", std::process::id(), random.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    // SAFETY: getrandom writes at most buf.len() bytes into the buffer we own.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `boot id/pid/start time` of a process: survives neither a reboot nor pid reuse.
fn launcher_label(pid: u32) -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(format!("{}/{pid}/{}", boot.trim(), start_time(pid)?))
}

fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (which may hold spaces), field 22 is the start time.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Remove containers whose shim is gone (a SIGKILLed launcher), on this boot of this host.
async fn reap_stale(docker: &Docker) {
    let Ok(boot) = std::fs::read_to_string("/proc/sys/kernel/random/boot_id") else { return };
    let boot = boot.trim();
    let filters = HashMap::from([("label".to_string(), vec![LABEL_LAUNCHER.to_string()])]);
    let Ok(list) =
        docker.list_containers(Some(ListContainersOptionsBuilder::new().all(true).filters(&filters).build())).await
    else {
        return;
    };
    for c in list {
        let Some(label) = c.labels.as_ref().and_then(|l| l.get(LABEL_LAUNCHER)) else { continue };
        let mut parts = label.split('/');
        let (Some(b), Some(pid), Some(start)) = (parts.next(), parts.next(), parts.next()) else { continue };
        if b != boot {
            continue; // another host's or another boot's: not ours to judge
        }
        let alive = pid.parse::<u32>().ok().and_then(start_time).map(|t| t.to_string()) == Some(start.to_string());
        if alive {
            continue;
        }
        if let Some(id) = &c.id {
            tracing::info!(container = %id, "removing a container left by a launcher that is gone");
            let _ = docker.remove_container(id, Some(RemoveContainerOptionsBuilder::new().force(true).build())).await;
        }
        for name in c.names.iter().flatten() {
            let _ = std::fs::remove_dir_all(runtime_dir().join("containers").join(name.trim_start_matches('/')));
        }
    }
}

/// A root launcher runs the container as uid 65534, which can only write where that uid may:
/// say so before the start instead of letting the server fail on its first write.
fn check_writable_grants(c: &ContainerPlan) -> Result<(), String> {
    let fallback = format!("{CONTAINER_FALLBACK_ID}:{CONTAINER_FALLBACK_ID}");
    if c.user != fallback {
        return Ok(());
    }
    for b in c.binds.iter().filter(|b| b.writable) {
        let meta = std::fs::metadata(&b.src).map_err(|e| format!("{}: {e}", b.src.display()))?;
        let mode = meta.mode();
        let ok = (meta.uid() == CONTAINER_FALLBACK_ID && mode & 0o200 != 0)
            || (meta.gid() == CONTAINER_FALLBACK_ID && mode & 0o020 != 0)
            || mode & 0o002 != 0;
        if !ok {
            return Err(format!(
                "{}: granted writable, but the container runs as uid {CONTAINER_FALLBACK_ID} (mcpcell never runs a \
                 container as root) and cannot write there; run mcpcell as the owning user, or `chown \
                 {CONTAINER_FALLBACK_ID}:{CONTAINER_FALLBACK_ID} {}`",
                b.src.display(),
                b.src.display()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_level_someone_else_can_write_is_refused() {
        let open = runtime_dir().join(format!("test-open-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&open);
        std::fs::create_dir_all(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = create_private_dir(&open.join("x")).unwrap_err();
        assert!(err.contains("is not a private directory"), "{err}");
        // Control: once it is private, the same call creates the fresh level, 0700.
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o700)).unwrap();
        create_private_dir(&open.join("x")).unwrap();
        let mode = std::fs::metadata(open.join("x")).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // A fresh level that already exists is refused (someone took the name first).
        assert!(create_private_dir(&open.join("x")).is_err());
        std::fs::remove_dir_all(&open).unwrap();
    }
}
