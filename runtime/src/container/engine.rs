//! The connection to the local container engine (Docker, or Podman's Docker-compatible
//! socket), through bollard. `DOCKER_HOST` is honoured.

use bollard::Docker;
use serde::Serialize;

/// What `doctor` reports about the engine.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct EngineInfo {
    /// "Docker Engine", "Podman Engine", ...
    pub name: String,
    pub version: String,
    pub api_version: String,
    pub rootless: bool,
    /// User namespaces remapped by the daemon (`userns-remap`).
    pub userns_remap: bool,
    pub seccomp: bool,
    pub endpoint: String,
}

/// Where we connect: `DOCKER_HOST`, else the local socket.
pub fn endpoint() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// Connect and agree on an API version the engine speaks (Debian's docker.io speaks 1.41).
pub async fn connect() -> Result<Docker, String> {
    let not_answering = |e: &dyn std::fmt::Display| {
        format!(
            "the container engine at {} does not answer ({e}); start it (e.g. `dockerd &` or `systemctl start \
             docker`), or point DOCKER_HOST at a running engine (Podman: unix://$XDG_RUNTIME_DIR/podman/podman.sock)",
            endpoint()
        )
    };
    let docker = Docker::connect_with_defaults().map_err(|e| not_answering(&e))?;
    docker.negotiate_version().await.map_err(|e| not_answering(&e))
}

/// Ask the engine who it is.
pub async fn info(docker: &Docker) -> Result<EngineInfo, String> {
    let version = docker.version().await.map_err(|e| format!("engine version: {e}"))?;
    let info = docker.info().await.map_err(|e| format!("engine info: {e}"))?;
    let opts = info.security_options.unwrap_or_default();
    let has = |name: &str| opts.iter().any(|o| o.split(',').any(|kv| kv == format!("name={name}")));
    let name = engine_name(&version);
    Ok(EngineInfo {
        name,
        version: version.version.unwrap_or_default(),
        api_version: version.api_version.unwrap_or_default(),
        rootless: has("rootless"),
        userns_remap: has("userns"),
        seccomp: has("seccomp"),
        endpoint: endpoint(),
    })
}

/// "Podman Engine", "Docker Engine - Community", or for engines that name no platform (Debian's
/// docker.io), "Docker Engine".
fn engine_name(version: &bollard::models::SystemVersion) -> String {
    let components: Vec<&str> = version.components.iter().flatten().map(|c| c.name.as_str()).collect();
    if components.contains(&"Podman Engine") {
        return "Podman Engine".into();
    }
    match version.platform.as_ref().map(|p| p.name.as_str()).filter(|n| !n.is_empty()) {
        Some(name) => name.to_string(),
        None if components.contains(&"Engine") => "Docker Engine".into(),
        None => "Docker-compatible engine".into(),
    }
}

/// Whether the engine is Podman (its compatibility API differs in places: a seccomp profile is
/// given as a file path, not as the profile itself).
pub async fn is_podman(docker: &Docker) -> Result<bool, String> {
    let version = docker.version().await.map_err(|e| format!("engine version: {e}"))?;
    Ok(engine_name(&version) == "Podman Engine")
}

/// For `doctor`: the engine, or why there is none. Runs its own small runtime.
pub fn probe() -> Result<EngineInfo, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async {
        let docker = tokio::time::timeout(std::time::Duration::from_secs(5), connect())
            .await
            .map_err(|_| format!("the container engine at {} did not answer within 5 s", endpoint()))??;
        info(&docker).await
    })
}
