"""Integrations with store frameworks (one sub-package per framework)."""
