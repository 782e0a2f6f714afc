"""Helpers the tests share: a loopback HTTP server and reply builders."""
