"""Relève's benchmark: the gateway against the direct upstream, a minimal reference proxy and LiteLLM.

Run it with `make bench` (or `.venv/bin/python -m bench.run --help`). Every server
is a real process on real loopback sockets; see bench/README section in RESULTS.md.
"""
