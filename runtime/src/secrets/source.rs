//! Static sources: the launcher's environment, a host file, a helper command, the OS keyring.

use mcpcell_profiles::SecretSource;

/// The launcher's environment, as a lookup (a snapshot for refreshes).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Read a static source. Errors name the source, never the value.
pub(super) fn read(source: &SecretSource, env: EnvLookup<'_>) -> Result<String, String> {
    match source {
        SecretSource::Env(var) => env(var)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("source env:{var}: the variable is not set (or empty) in mcpcell's environment")),
        SecretSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("source file:{}: {e}", path.display()))?;
            let value = text.trim_end_matches(['\n', '\r']).to_string();
            if value.is_empty() {
                return Err(format!("source file:{}: the file is empty", path.display()));
            }
            Ok(value)
        }
        SecretSource::Command { argv, timeout_secs } => run_secret_command(argv, *timeout_secs),
        SecretSource::Keyring { service, user } => super::keyring::read(service, user),
        minted => Err(format!("source {} is minted, not read", minted.kind())),
    }
}

/// Run a secret helper (`gh auth token`, `op read ...`): no shell, stdin closed, stdout
/// trimmed. Its output is never put in an error; its stderr is not shown (it may echo input).
fn run_secret_command(argv: &[String], timeout_secs: u64) -> Result<String, String> {
    use std::io::Read;
    // The program only: its arguments may be sensitive (as SecretSource::describe says).
    let shown = argv.first().map(String::as_str).unwrap_or("").to_string();
    let (program, args) = argv.split_first().ok_or("source command: empty command")?;
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("source command `{shown}`: cannot start it: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("source command: no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout_secs);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("source command `{shown}`: no answer within {timeout_secs} s"));
            }
            Err(e) => return Err(format!("source command `{shown}`: {e}")),
        }
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(format!("source command `{shown}` failed ({status})"));
    }
    let value = String::from_utf8(out).map_err(|_| format!("source command `{shown}`: output is not UTF-8"))?;
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(format!("source command `{shown}` printed nothing"));
    }
    Ok(value)
}
