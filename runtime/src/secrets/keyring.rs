//! `keyring`: the OS secret store. On Linux that is the Secret Service on the user's D-Bus
//! session bus (GNOME Keyring, KWallet); a headless host (a server, CI, a container) has none.
//!
//! The lookup runs in a child process (the mcpcell binary itself, with [`HELPER_ARG`]): the
//! D-Bus client leaves a runtime thread behind, and the launcher must stay single-threaded
//! until it has cloned the cell. The value comes back over a pipe, never through argv.

use std::io::Read;
use std::time::{Duration, Instant};

/// argv[1] that makes the mcpcell binary run [`helper_main`] instead of its CLI.
pub const HELPER_ARG: &str = "__mcpcell-keyring-lookup";

/// How long the lookup may take (a locked keyring may be waiting for a prompt).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a session bus would be: `DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`.
fn session_bus() -> Option<String> {
    if let Some(addr) = std::env::var("DBUS_SESSION_BUS_ADDRESS").ok().filter(|a| !a.is_empty()) {
        return Some(addr);
    }
    let runtime = std::env::var("XDG_RUNTIME_DIR").ok().filter(|d| d.starts_with('/'))?;
    let bus = std::path::Path::new(&runtime).join("bus");
    bus.exists().then(|| format!("unix:path={}", bus.display()))
}

const INSTEAD: &str = "use another source instead: source = \"command\" with a helper \
    (command = [\"secret-tool\", \"lookup\", \"service\", \"S\", \"username\", \"U\"], or your password manager's CLI \
    such as [\"op\", \"read\", \"op://vault/item/field\"]), or \"file:PATH\" / \"env:NAME\"";

pub(super) fn read(service: &str, user: &str) -> Result<String, String> {
    let Some(_bus) = session_bus() else {
        return Err(format!(
            "source keyring (service {service:?}, user {user:?}): no OS keyring is available on this host: there is \
             no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist), so no \
             Secret Service; {INSTEAD}"
        ));
    };
    lookup_in_child(service, user)
}

/// Run the lookup in `mcpcell HELPER_ARG SERVICE USER`: exit 0 with the value on stdout, or
/// exit 2 with an error message (which never contains the value) on stdout.
fn lookup_in_child(service: &str, user: &str) -> Result<String, String> {
    let what = format!("source keyring (service {service:?}, user {user:?})");
    let exe = std::env::current_exe().map_err(|e| format!("{what}: finding the mcpcell binary: {e}"))?;
    let mut child = std::process::Command::new(exe)
        .args([HELPER_ARG, service, user])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{what}: starting the lookup: {e}"))?;
    let mut stdout = child.stdout.take().ok_or_else(|| format!("{what}: no stdout"))?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + LOOKUP_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what}: no answer within {} s", LOOKUP_TIMEOUT.as_secs()));
            }
            Err(e) => return Err(format!("{what}: {e}")),
        }
    };
    let out = String::from_utf8(reader.join().unwrap_or_default()).map_err(|_| format!("{what}: not UTF-8"))?;
    match status.code() {
        Some(0) => Ok(out),
        Some(2) => Err(out),
        _ => Err(format!("{what}: the lookup failed ({status})")),
    }
}

/// The child side of the lookup: `args` are SERVICE and USER. Returns the exit code.
pub fn helper_main(args: &[String]) -> i32 {
    use std::io::Write;
    let [service, user] = args else { return 64 };
    let (code, text) = match lookup(service, user) {
        Ok(value) => (0, value),
        Err(message) => (2, message),
    };
    let mut out = std::io::stdout().lock();
    if out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_err() {
        return 74;
    }
    code
}

fn lookup(service: &str, user: &str) -> Result<String, String> {
    let entry = ::keyring::Entry::new(service, user)
        .map_err(|e| format!("source keyring (service {service:?}, user {user:?}): {e}"))?;
    match entry.get_password() {
        Ok(v) if !v.is_empty() => Ok(v),
        Ok(_) => Err(format!("source keyring (service {service:?}, user {user:?}): the stored value is empty")),
        Err(::keyring::Error::NoEntry) => Err(format!(
            "source keyring (service {service:?}, user {user:?}): no such entry in the keyring; store it first \
             (e.g. secret-tool store --label mcpcell service {service} username {user})"
        )),
        Err(::keyring::Error::PlatformFailure(e)) | Err(::keyring::Error::NoStorageAccess(e)) => Err(format!(
            "source keyring (service {service:?}, user {user:?}): the OS keyring is not usable ({e}); {INSTEAD}"
        )),
        Err(e) => Err(format!("source keyring (service {service:?}, user {user:?}): {e}")),
    }
}
