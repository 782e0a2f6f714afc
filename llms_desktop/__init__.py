"""llms-desktop: a native desktop chat app for large language models."""

__version__ = "0.1.0"
