//! A minimal MCP client over a cell's stdio, for `mcpcell tools`: initialize, list tools
//! (following pagination), done. Lines that are not the awaited response (server
//! notifications, logs) are skipped.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolInfo {
    pub name: String,
    pub description: String,
    /// The tool definition as the server sent it (for pinning).
    pub raw: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum McpError {
    #[error("the server did not answer {method} within {secs} s")]
    Timeout { method: &'static str, secs: u64 },
    #[error("the server closed its stdout before answering {method} (see its stderr above)")]
    Closed { method: &'static str },
    #[error("the server answered {method} with an error: {error}")]
    Rpc { method: &'static str, error: String },
    #[error("writing to the server: {0}")]
    Io(#[from] std::io::Error),
}

pub struct McpSession<W: Write, R: std::io::Read + AsFd> {
    to_server: W,
    from_server: BufReader<R>,
    next_id: u64,
    timeout: Duration,
}

impl<W: Write, R: std::io::Read + AsFd> McpSession<W, R> {
    pub fn new(to_server: W, from_server: R, timeout: Duration) -> Self {
        McpSession { to_server, from_server: BufReader::new(from_server), next_id: 1, timeout }
    }

    pub fn initialize(&mut self) -> Result<Value, McpError> {
        let result = self.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": { "name": "mcpcell", "version": env!("CARGO_PKG_VERSION") }
            }),
        )?;
        self.send(&json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))?;
        Ok(result)
    }

    pub fn list_tools(&mut self) -> Result<Vec<ToolInfo>, McpError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let params = match &cursor {
                Some(c) => json!({ "cursor": c }),
                None => json!({}),
            };
            let result = self.request("tools/list", params)?;
            for tool in result.get("tools").and_then(Value::as_array).into_iter().flatten() {
                tools.push(ToolInfo {
                    name: tool.get("name").and_then(Value::as_str).unwrap_or("?").to_string(),
                    description: tool.get("description").and_then(Value::as_str).unwrap_or("").to_string(),
                    raw: tool.clone(),
                });
            }
            cursor = result.get("nextCursor").and_then(Value::as_str).map(str::to_string);
            if cursor.is_none() {
                return Ok(tools);
            }
        }
    }

    fn send(&mut self, msg: &Value) -> Result<(), McpError> {
        let mut line = msg.to_string();
        line.push('\n');
        self.to_server.write_all(line.as_bytes())?;
        self.to_server.flush()?;
        Ok(())
    }

    fn request(&mut self, method: &'static str, params: Value) -> Result<Value, McpError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))?;
        let deadline = Instant::now() + self.timeout;
        let mut line = String::new();
        loop {
            if self.from_server.buffer().is_empty() {
                let left = deadline.saturating_duration_since(Instant::now());
                let timeout = nix::poll::PollTimeout::try_from(left).unwrap_or(nix::poll::PollTimeout::MAX);
                let mut fds =
                    [nix::poll::PollFd::new(self.from_server.get_ref().as_fd(), nix::poll::PollFlags::POLLIN)];
                match nix::poll::poll(&mut fds, timeout) {
                    Ok(0) => return Err(McpError::Timeout { method, secs: self.timeout.as_secs() }),
                    Err(nix::Error::EINTR) | Ok(_) => {}
                    Err(e) => return Err(McpError::Io(e.into())),
                }
            }
            line.clear();
            if self.from_server.read_line(&mut line)? == 0 {
                return Err(McpError::Closed { method });
            }
            let Ok(msg) = serde_json::from_str::<Value>(&line) else { continue };
            if msg.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if let Some(err) = msg.get("error") {
                return Err(McpError::Rpc { method, error: err.to_string() });
            }
            return Ok(msg.get("result").cloned().unwrap_or(Value::Null));
        }
    }
}
