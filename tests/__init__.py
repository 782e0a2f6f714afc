"""Test suite: unit (no Qt), ui (pytest-qt), e2e (the app against real local servers)."""
