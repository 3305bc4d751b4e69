"""Operators' tools for qunyun: the `qunyun` CLI and the local stack. Never shipped to Lambda."""
