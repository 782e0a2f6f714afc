"""Widget tests under pytest-qt, offscreen, with real servers and a real store."""
