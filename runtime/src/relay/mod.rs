//! The MCP-aware relay: frames the stdio JSON-RPC stream and looks into it where a profile asks.
//!
//! - [`frame`]: newline-delimited framing that never re-serialises.
//! - [`message`]: peeking at a frame's `id`/`method` without owning it; the relay's own errors.
//! - [`pin`]: tool pins (hashes of canonical tool definitions) against rug pulls.
//! - [`poison`]: description sanitising and hidden-instruction checks against tool poisoning.

pub mod frame;
pub mod lock;
pub mod message;
pub mod pin;
pub mod poison;
pub mod redact;
pub mod session;
