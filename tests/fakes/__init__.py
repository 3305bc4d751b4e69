"""Local fakes of the chat platforms qunyun delivers to, faithful to reference/channels.md.

Each fake is a real HTTP server on 127.0.0.1 (a context manager, also a pytest fixture in conftest): it
checks credentials, verifies signatures as documented, enforces size and rate limits against an injectable
clock, answers with the platform's own error codes, and records every message it accepted.
"""
