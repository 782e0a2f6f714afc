"""Tests of the pure core: no Qt here."""
