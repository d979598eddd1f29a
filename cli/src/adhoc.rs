//! `mcpcell exec`: a profile built from command-line grants.

use anyhow::{bail, Context, Result};
use mcpcell_profiles::{
    expand_path, parse_size, Backend, EgressRule, Filesystem, LoadContext, Network, Origin, PathGrant, Profile,
    Sandbox, Server,
};
use std::collections::BTreeMap;

#[derive(clap::Args)]
#[command(after_help = "Example:\n  mcpcell exec --read ~/docs --write /tmp/out -- python3 script.py\n\n\
    Everything not granted is denied: no host files but the system directories, no network \
    (unless --allow-host), a private /tmp and $HOME.")]
pub struct ExecArgs {
    /// Make PATH visible read-only (repeatable).
    #[arg(long = "read", value_name = "PATH")]
    read: Vec<String>,
    /// Make PATH visible read-write (repeatable).
    #[arg(long = "write", value_name = "PATH")]
    write: Vec<String>,
    /// Allow outbound connections to HOST[:PORT] (repeatable; port defaults to 443; `*.domain`
    /// for its subdomains). Destinations that resolve to private, loopback or link-local
    /// addresses are still refused.
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    allow_host: Vec<String>,
    /// Like --allow-host, and also allow the host to resolve to a private, loopback or
    /// link-local address (a service on this machine or the LAN). Use only on purpose.
    #[arg(long = "allow-private-host", value_name = "HOST[:PORT]")]
    allow_private_host: Vec<String>,
    /// Set NAME=VALUE in the command's environment, or pass NAME through from mcpcell's.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// Working directory inside the cell (must be visible there); default: the private $HOME.
    #[arg(long)]
    cwd: Option<String>,
    /// Memory limit, e.g. 512MiB.
    #[arg(long, value_name = "SIZE")]
    memory: Option<String>,
    /// Maximum processes and threads.
    #[arg(long, value_name = "N")]
    pids: Option<u64>,
    /// Maximum open files.
    #[arg(long, value_name = "N")]
    open_files: Option<u64>,
    /// Largest file the command may write, e.g. 100MiB.
    #[arg(long, value_name = "SIZE")]
    file_size: Option<String>,
    /// CPU time limit in seconds.
    #[arg(long, value_name = "N")]
    cpu_seconds: Option<u64>,
    /// Size of the private /tmp, $HOME and /dev/shm, e.g. 64MiB.
    #[arg(long, value_name = "SIZE")]
    tmpfs_size: Option<String>,
    /// Where to run: the Linux jail (default) or a container.
    #[arg(long, value_enum, default_value = "jail")]
    backend: BackendArg,
    /// With --backend container: run from this local image's own runtime (see `mcpcell image
    /// build`) instead of the host's system trees.
    #[arg(long, value_name = "IMAGE", requires = "backend")]
    image: Option<String>,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BackendArg {
    Jail,
    Container,
}

pub fn profile(args: ExecArgs, ctx: &LoadContext) -> Result<Profile> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let grant = |written: &String| -> Result<PathGrant> {
        let path = expand_path(written, &ctx.home).or_else(|_| {
            // exec accepts relative paths (a shell user's expectation); profiles do not.
            expand_path(&cwd.join(written).to_string_lossy(), &ctx.home)
        });
        Ok(PathGrant { path: path.map_err(anyhow::Error::msg)?, optional: false })
    };
    let mut env = BTreeMap::new();
    for entry in &args.env {
        let (name, value) = match entry.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => {
                let v =
                    std::env::var(entry).with_context(|| format!("--env {entry}: not set in mcpcell's environment"))?;
                (entry.clone(), v)
            }
        };
        if !mcpcell_profiles::is_env_name(&name) {
            bail!("--env {name}: not a valid environment variable name");
        }
        env.insert(name, value);
    }
    let mut egress = args
        .allow_host
        .iter()
        .map(|h| h.parse::<EgressRule>().map_err(|e| anyhow::anyhow!("--allow-host: {e}")))
        .collect::<Result<Vec<_>>>()?;
    for h in &args.allow_private_host {
        egress.push(EgressRule::parse_private(h).map_err(|e| anyhow::anyhow!("--allow-private-host: {e}"))?);
    }
    let mut limits = mcpcell_profiles::Limits::default();
    let size = |flag: &str, v: &Option<String>| -> Result<Option<u64>> {
        v.as_deref().map(|s| parse_size(s).map_err(|e| anyhow::anyhow!("--{flag} {s}: {e}"))).transpose()
    };
    if let Some(v) = size("memory", &args.memory)? {
        limits.memory_bytes = v;
    }
    if let Some(v) = size("file-size", &args.file_size)? {
        limits.file_size_bytes = v;
    }
    if let Some(v) = size("tmpfs-size", &args.tmpfs_size)? {
        limits.tmpfs_bytes = v;
    }
    if let Some(v) = args.pids {
        limits.pids = v;
    }
    if let Some(v) = args.open_files {
        limits.open_files = v;
    }
    limits.cpu_seconds = args.cpu_seconds.or(limits.cpu_seconds);
    let (command, rest) = args.command.split_first().context("no command given")?;
    Ok(Profile {
        name: "exec".into(),
        origin: Origin::AdHoc,
        extends: Vec::new(),
        description: None,
        server: Server {
            command: command.clone(),
            args: rest.to_vec(),
            env,
            cwd: args.cwd.as_ref().map(|c| grant(c).map(|g| g.path)).transpose()?,
            ..Server::default()
        },
        filesystem: Filesystem {
            read: args.read.iter().map(grant).collect::<Result<_>>()?,
            write: args.write.iter().map(grant).collect::<Result<_>>()?,
        },
        network: Network { egress },
        secrets: Vec::new(),
        tools: Default::default(),
        audit: Default::default(),
        limits,
        sandbox: Sandbox {
            backend: match args.backend {
                BackendArg::Jail => Backend::Jail,
                BackendArg::Container => Backend::Container,
            },
            image: args.image,
            ..Sandbox::default()
        },
    })
}
