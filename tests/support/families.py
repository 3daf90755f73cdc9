"""Shared by the cross-family tests: the client key and the upstream families."""

KEY = "family-tests-key"
FAMILIES = ("openai", "anthropic", "gemini", "azure")
