//! Which MCP client a config file belongs to, and where its servers are.

use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// `claude_desktop_config.json`, `mcpServers`.
    ClaudeDesktop,
    /// `.cursor/mcp.json`, `mcpServers`.
    Cursor,
    /// `.vscode/mcp.json`, `servers`; JSON with comments.
    VsCode,
    /// `.mcp.json` (a project's Claude Code servers), `mcpServers`.
    ClaudeCode,
    /// Another file with a top-level `mcpServers` object (the common shape).
    OtherMcpServers,
}

impl ClientKind {
    pub fn label(self) -> &'static str {
        match self {
            ClientKind::ClaudeDesktop => "Claude Desktop config",
            ClientKind::Cursor => "Cursor config",
            ClientKind::VsCode => "VS Code config",
            ClientKind::ClaudeCode => "Claude Code project config",
            ClientKind::OtherMcpServers => "MCP client config",
        }
    }

    /// The top-level key holding the servers.
    pub fn servers_key(self) -> &'static str {
        match self {
            ClientKind::VsCode => "servers",
            _ => "mcpServers",
        }
    }

    /// From the file name alone; `None` when the name does not say.
    pub fn from_path(path: &Path) -> Option<ClientKind> {
        let name = path.file_name()?.to_str()?;
        let parent = path.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str());
        match (name, parent) {
            ("claude_desktop_config.json", _) => Some(ClientKind::ClaudeDesktop),
            ("mcp.json", Some(".cursor")) => Some(ClientKind::Cursor),
            ("mcp.json", Some(".vscode")) => Some(ClientKind::VsCode),
            (".mcp.json", _) => Some(ClientKind::ClaudeCode),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let k = |p: &str| ClientKind::from_path(Path::new(p));
        assert_eq!(k("/h/.config/Claude/claude_desktop_config.json"), Some(ClientKind::ClaudeDesktop));
        assert_eq!(k("/p/.cursor/mcp.json"), Some(ClientKind::Cursor));
        assert_eq!(k("/p/.vscode/mcp.json"), Some(ClientKind::VsCode));
        assert_eq!(k("/p/.mcp.json"), Some(ClientKind::ClaudeCode));
        assert_eq!(k("/p/mcp.json"), None);
        assert_eq!(k("/p/settings.json"), None);
    }
}
