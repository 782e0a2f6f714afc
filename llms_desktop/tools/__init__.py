"""MCP tools: servers configured in mcp.json, started on demand, and the tool-calling loop."""

# Rounds of tool calls in one exchange before the loop stops asking the model (here, not in
# a submodule, so the CLI's parser reads it without importing anything).
DEFAULT_MAX_ROUNDS = 8
