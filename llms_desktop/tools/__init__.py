"""MCP tools: servers configured in mcp.json, started on demand, and the tool-calling loop."""
