"""Model providers: each turns a ChatRequest into an async stream of typed deltas."""
