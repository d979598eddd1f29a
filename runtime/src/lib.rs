//! mcpcell's mechanisms: everything that enforces a profile.
//!
//! - [`plan`]: profile → [`plan::CellPlan`] (resolve the host, then a pure function).
//! - [`jail`]: build the cell from a plan and start the server in it.
//! - [`container`]: the same cell built by a container engine (Docker/Podman, bollard).
//! - [`supervise`]: the launcher's side of a running cell.
//! - [`host`]: feature probing for `doctor` and the pre-start checks.
//! - [`explain`]: the plan in plain words.

pub mod audit;
pub mod container;
pub mod egress;
pub mod error;
pub mod explain;
pub mod host;
pub mod jail;
pub mod launch;
pub mod mcp_client;
pub mod packages;
pub mod pathfd;
pub mod plan;
pub mod relay;
pub mod secrets;
pub mod supervise;

pub use error::RuntimeError;
