//! The `mcpcell` command: argument parsing and human output. Policy lives in
//! `mcpcell-profiles`, mechanism in `mcpcell-runtime`.

mod adhoc;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use mcpcell_profiles::{LoadContext, Profile};
use mcpcell_runtime::jail::SpawnError;
use mcpcell_runtime::mcp_client::ToolInfo;
use mcpcell_runtime::{container, explain, host, launch, packages, supervise};
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Exit status when mcpcell itself refuses or fails (the server's own statuses pass through).
const EXIT_REFUSED: u8 = 125;

#[derive(Parser)]
#[command(
    name = "mcpcell",
    version,
    about = "Run MCP servers in a sandbox: a drop-in for npx/uvx in MCP client configs",
    long_about = "Run MCP servers in a sandbox: a drop-in for npx/uvx in MCP client configs.\n\n\
        A profile (TOML) says what the server may see and reach; everything else is denied. \
        The server runs in a Linux cell (user, mount, pid, network, ipc, uts and cgroup \
        namespaces, Landlock, seccomp, no capabilities, resource limits) — or, with \
        [sandbox] backend = \"container\", in a hardened Docker/Podman container with the same \
        grants — and talks to the client over stdio only. If the cell cannot be built as \
        declared, mcpcell refuses to start (exit 125) and says why.",
    after_help = "Examples:\n  \
        mcpcell profiles                      list the built-in profiles\n  \
        mcpcell explain everything            what the 'everything' profile allows\n  \
        mcpcell tools everything              start it in a cell and list its tools\n  \
        mcpcell run ./github.toml             what an MCP client config runs\n  \
        mcpcell run npm:@scope/server@1.2.3   a package, installed and pinned on first use\n  \
        mcpcell install github                install and pin a profile's package now\n  \
        mcpcell exec --read ~/docs -- ls ~/docs\n  \
        mcpcell wrap .cursor/mcp.json         show how a client config would change\n\n\
        In an MCP client config, replace  \"command\": \"npx\", \"args\": [\"-y\", \"pkg\"]\n  \
        with  \"command\": \"mcpcell\", \"args\": [\"run\", \"npm:pkg\"] (or a PROFILE)"
)]
struct Cli {
    /// Log format on stderr (stdout belongs to the MCP protocol).
    #[arg(long, value_enum, default_value = "text", global = true)]
    log_format: LogFormat,
    /// More logs (-v: debug, -vv: trace). MCPCELL_LOG=<filter> also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run an MCP server from a profile in a cell, relaying stdio. Exits with the server's status.
    ///
    /// PROFILE is a built-in name (see `mcpcell profiles`), an installed profile
    /// (~/.config/mcpcell/profiles/NAME.toml), a path to a .toml file, or a package:
    /// npm:NAME[@VERSION] or pypi:NAME[==VERSION]. A package runs with the catalogue's profile
    /// for it, if there is one, else with nothing granted (no files, no network, no secrets).
    /// Packages are installed outside the cell on first use (install scripts off), pinned in the
    /// lockfile, and verified before every start.
    Run {
        profile: String,
        /// Run a package whose name resembles a catalogue package (the typosquat guard).
        #[arg(long)]
        i_mean_it: bool,
        /// Write the audit log (JSON lines) to FILE, overriding the profile's [audit] file.
        /// Turns the MCP-aware relay on.
        #[arg(long, value_name = "FILE")]
        audit: Option<PathBuf>,
        /// Extra arguments appended to the profile's [server] args.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Run any command in a cell with only the grants given here.
    Exec(Box<adhoc::ExecArgs>),
    /// Validate profiles: exit 0 when all are valid, 1 with `path:line:column: message` otherwise.
    Check {
        #[arg(required = true)]
        profiles: Vec<String>,
    },
    /// Say in plain words what a profile's cell allows (no secret values), and for a package its
    /// pinned version, integrity, cache status and the read-only mounts it runs from.
    Explain { profile: String },
    /// Install the packages of profiles (or npm:/pypi: specs) into the cache, pin them in their
    /// lockfiles and verify them, without starting anything.
    Install {
        #[arg(required = true)]
        profiles: Vec<String>,
        /// Install a package whose name resembles a catalogue package (the typosquat guard).
        #[arg(long)]
        i_mean_it: bool,
    },
    /// Start a profile's server in a cell, do the MCP handshake, list its tools, and exit.
    ///
    /// A smoke test before wiring a profile into a client.
    Tools {
        profile: String,
        /// Run a package whose name resembles a catalogue package (the typosquat guard).
        #[arg(long)]
        i_mean_it: bool,
        /// Give up if the server has not answered within this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Print the tools as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pin the server's tools: start it in its cell, list its tools, and write the lockfile
    /// (next to a profile file as NAME.lock.json; for a built-in, under
    /// ~/.config/mcpcell/locks). From then on `run` refuses tools that are new or changed
    /// (rug pulls) unless the profile says `[tools] pins = "warn"`. Re-pinning is this command.
    Lock {
        profile: String,
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Show what changed in the server's tools since they were pinned: `+` new, `-` removed,
    /// `~` changed (with the fields). Exit 0 when nothing changed, 1 when something did.
    Diff {
        profile: String,
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// What this host supports (Landlock, user namespaces, seccomp, cgroups, a container engine) and which
    /// backend `run` would use.
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// List the built-in profiles, or print one.
    Profiles {
        #[command(subcommand)]
        action: Option<ProfilesAction>,
    },
    /// Print the JSON Schema of the profile format (for editors).
    Schema,
    /// Rewrite an MCP client config so its servers start through mcpcell.
    #[command(long_about = WRAP_HELP, after_help = WRAP_EXAMPLE)]
    Wrap {
        /// The client's config: claude_desktop_config.json, .cursor/mcp.json, .vscode/mcp.json,
        /// .mcp.json, or any file with a top-level "mcpServers" object.
        config: PathBuf,
        /// Write the profiles, the secret files and the new config (keeping a backup).
        /// Without it nothing is written: the changes are printed as a diff.
        #[arg(long)]
        write: bool,
        /// With --write: overwrite profiles and secret files that exist with other content.
        #[arg(long, requires = "write")]
        force: bool,
    },
    /// Work with a profile's secrets.
    Secrets {
        #[command(subcommand)]
        action: SecretsAction,
    },
    /// Images for the container backend, built locally from this host (never pulled).
    Image {
        #[command(subcommand)]
        action: ImageAction,
    },
    /// The container's init (pid 1 inside an mcpcell container). Not for direct use.
    #[command(name = "__container-init", hide = true)]
    ContainerInit,
}

#[derive(Subcommand)]
enum ImageAction {
    /// Build images into the local engine: base (default; mount points only, the host's
    /// system trees are bound read-only at run time), static, node, python. The root
    /// filesystem is assembled from this host and imported: no registry is needed.
    ///
    /// With a registry, any image works too: set [sandbox] image = "REF" and build or pull it
    /// yourself (see images/README.md).
    Build {
        #[arg(default_value = "base")]
        kinds: Vec<String>,
        /// The uv binary to put in the python image (default: uv on PATH, if any).
        #[arg(long, value_name = "PATH")]
        uv: Option<PathBuf>,
    },
    /// List the images mcpcell can build and whether the engine has them.
    List,
}

#[derive(Subcommand)]
enum SecretsAction {
    /// Obtain every secret of a profile as `run` would, without starting the server; report each
    /// one's length, source, delivery and expiry (never the value). Minted credentials are
    /// revoked right after, where the issuer allows. Exit 0 when all resolve, 1 otherwise.
    Check { profile: String },
}

#[derive(Subcommand)]
enum ProfilesAction {
    /// Print a built-in profile's TOML (with its header comment).
    Show { name: String },
}

fn main() -> ExitCode {
    // The keyring lookup runs in a child process of this binary (see runtime secrets::keyring).
    if std::env::args_os().nth(1).is_some_and(|a| a == mcpcell_runtime::secrets::KEYRING_HELPER_ARG) {
        let rest: Vec<String> = std::env::args_os().skip(2).map(|a| a.to_string_lossy().into_owned()).collect();
        let code = mcpcell_runtime::secrets::keyring_helper_main(&rest);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.verbose);
    // Commands that only print end quietly when their reader goes away (`mcpcell doctor | head`),
    // as other tools do. The others keep SIGPIPE ignored: they start cells, containers or
    // issuers' credentials and must clean up whatever happens to stdout.
    if matches!(
        cli.command,
        Command::Check { .. }
            | Command::Explain { .. }
            | Command::Doctor { .. }
            | Command::Profiles { .. }
            | Command::Schema
    ) {
        // SAFETY: installing SIG_DFL runs no code in this process.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("mcpcell: error: {err:#}");
            ExitCode::from(EXIT_REFUSED)
        }
    }
}

fn init_logging(format: LogFormat, verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "debug",
        _ => "trace",
    };
    let mut filter = EnvFilter::try_from_env("MCPCELL_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // The HTTP, TLS, signing and D-Bus crates used to obtain secrets log requests (headers,
    // canonical requests) at debug/trace level: never shown, whatever the level asked for.
    for quiet in mcpcell_runtime::secrets::QUIET_LOG_TARGETS {
        if let Ok(directive) = format!("{quiet}=off").parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_target(false).init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn dispatch(command: Command) -> Result<ExitCode> {
    match command {
        Command::Run { profile, audit, i_mean_it, args } => {
            let mut profile = match packaged(&load(&profile)?, i_mean_it) {
                Ok(p) => p,
                Err(code) => return Ok(code),
            };
            profile.server.args.extend(args);
            if let Some(file) = audit {
                let cwd = std::env::current_dir().context("reading the current directory")?;
                profile.audit.file = Some(cwd.join(file));
            }
            run(&profile)
        }
        Command::Exec(args) => run(&adhoc::profile(*args, &load_context())?),
        Command::Check { profiles } => Ok(check(&profiles)),
        Command::Explain { profile } => explain_profile(&load(&profile)?),
        Command::Install { profiles, i_mean_it } => install(&profiles, i_mean_it),
        Command::Tools { profile, timeout, json, i_mean_it } => match packaged(&load(&profile)?, i_mean_it) {
            Ok(p) => tools(&p, Duration::from_secs(timeout), json),
            Err(code) => Ok(code),
        },
        Command::Lock { profile, timeout } => match packaged(&load(&profile)?, false) {
            Ok(p) => lock(&p, Duration::from_secs(timeout)),
            Err(code) => Ok(code),
        },
        Command::Diff { profile: spec, timeout } => match packaged(&load(&spec)?, false) {
            Ok(p) => diff(&spec, &p, Duration::from_secs(timeout)),
            Err(code) => Ok(code),
        },
        Command::Doctor { json } => doctor(json),
        Command::Profiles { action: None } => {
            for b in mcpcell_profiles::builtins() {
                println!("{:<20} {}", b.name, b.description);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Profiles { action: Some(ProfilesAction::Show { name }) } => {
            let b = mcpcell_profiles::builtin(&name).with_context(|| {
                let names: Vec<&str> = mcpcell_profiles::builtins().iter().map(|b| b.name).collect();
                format!("no built-in profile {name:?}; built-ins: {}", names.join(", "))
            })?;
            print!("{}", b.toml);
            Ok(ExitCode::SUCCESS)
        }
        Command::Secrets { action: SecretsAction::Check { profile } } => secrets_check(&load(&profile)?),
        Command::Image { action } => image(action),
        Command::ContainerInit => Ok(ExitCode::from(u8::try_from(container::init::main()).unwrap_or(EXIT_REFUSED))),
        Command::Wrap { config, write, force } => wrap(&config, write, force),
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&mcpcell_profiles::json_schema())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `$XDG_CONFIG_HOME` when set to an absolute path, else `~/.config`.
fn config_home(home: &std::path::Path) -> PathBuf {
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".config"))
}

fn load_context() -> LoadContext {
    let id = launch::identity();
    let config = config_home(&id.home);
    LoadContext { home: id.home, profile_dirs: vec![config.join("mcpcell/profiles")], check_paths: false }
}

fn load(spec: &str) -> Result<Profile> {
    // Paths are checked by the runtime when the cell is built (with `explain` showing them);
    // `check` asks the parser to check them too, with line and column.
    if mcpcell_profiles::PackageRef::is_package_spec(spec) {
        return Ok(mcpcell_profiles::package_profile(spec, &load_context())?);
    }
    Ok(mcpcell_profiles::load(spec, &load_context())?)
}

fn package_dirs(profile: &Profile) -> packages::Dirs {
    packages::Dirs::for_profile(profile, &launch::identity().home, &|k| std::env::var(k).ok())
}

/// A package profile installed (if needed), verified and turned into the command profile the
/// cell runs; other profiles unchanged. Err: refused (the message is printed).
fn packaged(profile: &Profile, i_mean_it: bool) -> Result<Profile, ExitCode> {
    let opts = packages::Options { i_mean_it };
    let mut progress = |line: &str| eprintln!("mcpcell: {line}");
    match packages::prepare(profile, &package_dirs(profile), &opts, &mut progress) {
        Ok(Some(prepared)) => Ok(prepared.profile),
        Ok(None) => Ok(profile.clone()),
        Err(e) => {
            eprintln!("mcpcell: error: {e}");
            Err(ExitCode::from(EXIT_REFUSED))
        }
    }
}

fn install(specs: &[String], i_mean_it: bool) -> Result<ExitCode> {
    let mut ok = true;
    for spec in specs {
        let profile = load(spec)?;
        let opts = packages::Options { i_mean_it };
        let mut progress = |line: &str| eprintln!("mcpcell: {line}");
        match packages::prepare(&profile, &package_dirs(&profile), &opts, &mut progress) {
            Ok(Some(p)) => {
                let lp = p.report.locked.as_ref();
                println!(
                    "{spec}: {} {} ({}), {} in {}",
                    p.report.requested.key(),
                    lp.map_or("?", |l| l.version.as_str()),
                    lp.map_or("?", |l| l.integrity.as_str()),
                    match p.report.status {
                        packages::PackageStatus::Verified => "verified",
                        _ => "installed",
                    },
                    p.report.tree.as_ref().map_or(String::new(), |t| t.display().to_string())
                );
            }
            Ok(None) => println!("{spec}: runs a command, nothing to install"),
            Err(e) => {
                eprintln!("mcpcell: error: {spec}: {e}");
                ok = false;
            }
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(EXIT_REFUSED) })
}

fn explain_profile(profile: &Profile) -> Result<ExitCode> {
    let dirs = package_dirs(profile);
    let report = packages::inspect(profile, &dirs);
    // A verified package is turned into the command profile the cell runs (no install, no
    // network: `inspect` said it is in the cache and matches the lockfile).
    let runnable = match &report {
        Some(r) if r.status == packages::PackageStatus::Verified => {
            packages::prepare(profile, &dirs, &packages::Options { i_mean_it: true }, &mut |_| {})
                .ok()
                .flatten()
                .map(|p| p.profile)
        }
        _ => None,
    };
    let shown = runnable.as_ref().unwrap_or(profile);
    let plan = launch::prepare_described(shown);
    let mut text = explain::explain(shown, &plan, &host::report());
    if let Some(report) = &report {
        text.sections.insert(2.min(text.sections.len()), explain::package_section(report));
    }
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn check(specs: &[String]) -> ExitCode {
    let ctx = LoadContext { check_paths: true, ..load_context() };
    let mut ok = true;
    for spec in specs {
        match mcpcell_profiles::load(spec, &ctx) {
            Ok(p) => {
                println!("{spec}: ok ({})", p.name);
                // Valid, but `run` will want --i-mean-it: say so now.
                if let Some(pkg) = &p.server.package {
                    if let Err(e) = packages::typosquat_check(&p, pkg, &packages::Options::default()) {
                        eprintln!("{spec}: warning: {e}");
                    }
                }
            }
            Err(e) => {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Build the cell, hand it our stdio, supervise, mirror the exit status.
fn run(profile: &Profile) -> Result<ExitCode> {
    let plan = match launch::prepare(profile) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("mcpcell: error: {e}");
            return Ok(ExitCode::from(e.exit_code()));
        }
    };
    let signals = supervise::block_signals().context("blocking signals")?;
    let (cell, relay) = match launch::start_serving(&plan) {
        Ok(started) => started,
        Err(e) => return Ok(refused(&e)),
    };
    tracing::debug!(profile = %plan.profile, pid = cell.init.as_raw(), relay = relay.is_some(), "cell started");
    let code = supervise::supervise(cell, signals, plan.shutdown_grace).context("supervising the cell")?;
    if let Some(relay) = relay {
        // The server is gone; let its last bytes reach the client.
        relay.finish(std::time::Duration::from_secs(2));
    }
    // Stop refreshing and revoke minted credentials now (not in a destructor racing exit).
    plan.secrets.close();
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(EXIT_REFUSED)))
}

fn image(action: ImageAction) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    rt.block_on(async {
        let docker = container::engine::connect().await.map_err(anyhow::Error::msg)?;
        match action {
            ImageAction::Build { kinds, uv } => {
                let options = container::image::BuildOptions { uv };
                for kind in kinds {
                    container::image::build(&docker, &kind, &options, &mut |line| eprintln!("mcpcell: {kind}: {line}"))
                        .await
                        .map_err(anyhow::Error::msg)?;
                }
            }
            ImageAction::List => {
                for (kind, what) in container::image::KINDS {
                    let reference = container::image::reference(kind);
                    let present = container::image::exists(&docker, &reference).await.map_err(anyhow::Error::msg)?;
                    println!("{reference:<24} {:<8} {what}", if present { "built" } else { "missing" });
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn refused(e: &SpawnError) -> ExitCode {
    eprintln!("mcpcell: error: {e}");
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(EXIT_REFUSED))
}

/// Start the server in its cell and list its tools; an error exit code when it cannot start.
fn list_tools(profile: &Profile, timeout: Duration) -> Result<Result<(Value, Vec<ToolInfo>), ExitCode>> {
    let plan = launch::prepare(profile)?;
    match launch::list_server_tools(&plan, timeout) {
        Ok(listed) => Ok(Ok(listed)),
        Err(launch::ListToolsError::Spawn(e)) => Ok(Err(refused(&e))),
        Err(e) => Err(anyhow::Error::new(e).context(format!("MCP handshake with profile {}", plan.profile))),
    }
}

fn tools(profile: &Profile, timeout: Duration, json: bool) -> Result<ExitCode> {
    let (init, tools) = match list_tools(profile, timeout)? {
        Ok(listed) => listed,
        Err(code) => return Ok(code),
    };
    if json {
        let list: Vec<_> =
            tools.iter().map(|t| serde_json::json!({"name": t.name, "description": t.description})).collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    let server = init.pointer("/serverInfo/name").and_then(|v| v.as_str()).unwrap_or("?");
    let version = init.pointer("/serverInfo/version").and_then(|v| v.as_str()).unwrap_or("?");
    println!("{server} {version} in a cell (profile {}): {} tools", profile.name, tools.len());
    let width = tools.iter().map(|t| t.name.len()).max().unwrap_or(4).max(4);
    println!("{:<width$}  DESCRIPTION", "TOOL");
    for t in &tools {
        let first = t.description.lines().next().unwrap_or("");
        let short: String = first.chars().take(100).collect();
        println!("{:<width$}  {short}{}", t.name, if first.chars().count() > 100 { "…" } else { "" });
    }
    Ok(ExitCode::SUCCESS)
}

fn lock(profile: &Profile, timeout: Duration) -> Result<ExitCode> {
    let (init, tools) = match list_tools(profile, timeout)? {
        Ok(listed) => listed,
        Err(code) => return Ok(code),
    };
    let raw: Vec<Value> = tools.into_iter().map(|t| t.raw).collect();
    let mut lockfile = mcpcell_runtime::relay::lock::lock_from_tools(&init, &raw);
    let path = launch::prepare_described(profile)?.lock_path;
    // Re-pinning the tools keeps the package pin.
    lockfile.package = mcpcell_profiles::Lockfile::read(&path)?.and_then(|l| l.package);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(&path, lockfile.to_pretty_json()).with_context(|| format!("writing {}", path.display()))?;
    println!("pinned {} tools to {}", lockfile.tools.as_ref().map_or(0, Vec::len), path.display());
    Ok(ExitCode::SUCCESS)
}

fn diff(spec: &str, profile: &Profile, timeout: Duration) -> Result<ExitCode> {
    let path = launch::prepare_described(profile)?.lock_path;
    let Some(lockfile) = mcpcell_profiles::Lockfile::read(&path)? else {
        eprintln!("mcpcell: error: no lockfile at {}; pin the tools first with `mcpcell lock {spec}`", path.display());
        return Ok(ExitCode::from(2));
    };
    let (_init, tools) = match list_tools(profile, timeout)? {
        Ok(listed) => listed,
        Err(code) => return Ok(code),
    };
    let raw: Vec<Value> = tools.into_iter().map(|t| t.raw).collect();
    let changes = mcpcell_runtime::relay::lock::report_changes(&lockfile, &raw);
    if changes.is_empty() {
        println!("no changes since {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    println!("changes since {} (re-pin with `mcpcell lock {spec}` once reviewed):", path.display());
    for line in changes {
        println!("{line}");
    }
    Ok(ExitCode::from(1))
}

const WRAP_HELP: &str = "Rewrite an MCP client config so its servers start through mcpcell.

Reads a Claude Desktop (claude_desktop_config.json), Cursor (.cursor/mcp.json), VS Code \
(.vscode/mcp.json, with comments) or Claude Code (.mcp.json) config. Each stdio server started \
with npx, uvx, node or python becomes {\"command\": \"mcpcell\", \"args\": [\"run\", NAME]} with a \
generated profile in $XDG_CONFIG_HOME/mcpcell/profiles/NAME.toml (default ~/.config):

  - least privilege: no host files and no network, unless a built-in profile exists for the \
package (then the generated profile extends it);
  - paths among the server's arguments become [filesystem] grants, read-only unless the server \
is known to need write (the output says which, and why);
  - literal secrets in \"env\" (tokens, keys, passwords) move to files (mode 0600) under \
$XDG_CONFIG_HOME/mcpcell/secrets/, read with source = \"file:...\"; other env becomes \
[server] env. Secret values are never printed. Values the client fills in (${input:...}, ${VAR}) \
stay in the config and reach the server as secrets read from mcpcell's environment.

Remote (URL) servers and entries already running mcpcell are left alone; anything else wrap does \
not understand is left unchanged with a warning naming the server. Without --write, wrap prints \
a unified diff of the config and the new profiles and writes nothing. With --write it keeps a \
backup (CONFIG.mcpcell-backup, never overwriting a different one), replaces the config \
atomically and refuses to overwrite a profile or secret file that differs (--force does). \
Running it again is a no-op.";

const WRAP_EXAMPLE: &str = "Example:
  $ mcpcell wrap ~/.config/Claude/claude_desktop_config.json
  -       \"command\": \"npx\",
  -       \"args\": [\"-y\", \"@modelcontextprotocol/server-filesystem\", \"/home/me/notes\"]
  +       \"command\": \"mcpcell\",
  +       \"args\": [\"run\", \"notes\"]
  ...
  $ mcpcell wrap ~/.config/Claude/claude_desktop_config.json --write
  $ mcpcell explain notes        # what the generated profile allows";

fn wrap(config: &std::path::Path, write: bool, force: bool) -> Result<ExitCode> {
    let id = launch::identity();
    let env = mcpcell_wrap::WrapEnv { config_home: config_home(&id.home), home: id.home };
    let plan = mcpcell_wrap::plan_file(config, &env)?;
    for w in &plan.warnings {
        eprintln!("mcpcell: warning: {w}");
    }
    let wraps = plan.servers.iter().any(|s| matches!(s.outcome, mcpcell_wrap::Outcome::Wrapped { .. }));
    if wraps && !on_path("mcpcell") {
        eprintln!(
            "mcpcell: warning: no `mcpcell` on PATH here, and the client starts \"mcpcell\" by name: install it \
             where the client's PATH finds it (such as /usr/local/bin), or put its absolute path in \"command\""
        );
    }
    if !write {
        print!("{}", plan.preview());
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", plan.summary());
    let applied = mcpcell_wrap::apply(&plan, force)?;
    print!("{}", applied.render(&plan));
    Ok(ExitCode::SUCCESS)
}

/// Whether `name` is an executable file in some directory of `$PATH`.
fn on_path(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(name)).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    })
}

fn secrets_check(profile: &Profile) -> Result<ExitCode> {
    use mcpcell_runtime::secrets::{format_time, Secrets};
    if profile.secrets.is_empty() {
        println!("profile {} declares no secrets", profile.name);
        return Ok(ExitCode::SUCCESS);
    }
    let env = |k: &str| std::env::var(k).ok();
    let mut ok = true;
    for secret in &profile.secrets {
        // One at a time, so that every failure is reported. Dropping the handle revokes what
        // was minted for the check and removes any secret file.
        match Secrets::obtain(std::slice::from_ref(secret), &env) {
            Ok(obtained) => {
                for st in obtained.status() {
                    let now = std::time::SystemTime::now();
                    let expiry = match st.expires_at {
                        Some(t) => {
                            let left = t.duration_since(now).map(|d| d.as_secs()).unwrap_or(0);
                            let mut text = format!("expires {} (in {left} s)", format_time(t));
                            if let Some(r) = st.refresh_at {
                                text.push_str(&format!(", file rewritten from {} on", format_time(r)));
                            } else if !matches!(secret.delivery, mcpcell_profiles::SecretDelivery::File { .. }) {
                                text.push_str(
                                    ", not refreshed (env delivery; use delivery = \"file\" for long-running servers)",
                                );
                            }
                            text
                        }
                        None => "static: no expiry".into(),
                    };
                    let minted = if secret.is_minted() {
                        "; minted for this check, revoked where the issuer allows"
                    } else {
                        ""
                    };
                    println!(
                        "ok      {} ({} characters, from {}, delivered as {}; {expiry}{minted})",
                        st.name, st.chars, st.source, st.delivery
                    );
                }
            }
            Err(e) => {
                ok = false;
                println!("FAILED  {e}");
            }
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn doctor(json: bool) -> Result<ExitCode> {
    let r = host::report();
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        let mark = |ok: bool| if ok { "ok" } else { "MISSING" };
        println!(
            "kernel {} ({}), running as {}",
            r.kernel,
            r.arch,
            if r.running_as_root { "root" } else { "a regular user" }
        );
        for (name, p) in [
            ("user namespaces", &r.user_namespaces),
            ("landlock", &r.landlock),
            ("seccomp", &r.seccomp),
            ("cgroup pids", &r.cgroup_pids),
            ("cgroup memory", &r.cgroup_memory),
            ("egress", &r.egress),
            ("container engine", &r.container_engine),
        ] {
            // Without a cgroup, a non-root launcher's limits are rlimits (RLIMIT_NPROC is
            // per user namespace): nothing is missing.
            let status = if !p.available && name.starts_with("cgroup") && !r.running_as_root {
                "rlimits"
            } else {
                mark(p.available)
            };
            println!("  {status:<7} {name:<17} {}", p.detail);
        }
        match r.backend {
            Some(b) => println!("run would use the {b} backend"),
            None => println!("no backend can build a cell on this host: see MISSING above"),
        }
    }
    Ok(if r.backend.is_some() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
