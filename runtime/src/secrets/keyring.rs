//! `keyring`: the OS secret store. On Linux that is the Secret Service on the user's D-Bus
//! session bus (GNOME Keyring, KWallet); a headless host (a server, CI, a container) has none.

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
    (command = [\"secret-tool\", \"lookup\", \"service\", \"S\", \"user\", \"U\"], or your password manager's CLI \
    such as [\"op\", \"read\", \"op://vault/item/field\"]), or \"file:PATH\" / \"env:NAME\"";

pub(super) fn read(service: &str, user: &str) -> Result<String, String> {
    let Some(_bus) = session_bus() else {
        return Err(format!(
            "source keyring (service {service:?}, user {user:?}): no OS keyring is available on this host: there is \
             no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist), so no \
             Secret Service; {INSTEAD}"
        ));
    };
    lookup(service, user)
}

fn lookup(service: &str, user: &str) -> Result<String, String> {
    let entry = ::keyring::Entry::new(service, user)
        .map_err(|e| format!("source keyring (service {service:?}, user {user:?}): {e}"))?;
    match entry.get_password() {
        Ok(v) if !v.is_empty() => Ok(v),
        Ok(_) => Err(format!("source keyring (service {service:?}, user {user:?}): the stored value is empty")),
        Err(::keyring::Error::NoEntry) => Err(format!(
            "source keyring (service {service:?}, user {user:?}): no such entry in the keyring; store it first \
             (e.g. secret-tool store --label mcpcell service {service} user {user})"
        )),
        Err(::keyring::Error::PlatformFailure(e)) | Err(::keyring::Error::NoStorageAccess(e)) => Err(format!(
            "source keyring (service {service:?}, user {user:?}): the OS keyring is not usable ({e}); {INSTEAD}"
        )),
        Err(e) => Err(format!("source keyring (service {service:?}, user {user:?}): {e}")),
    }
}
