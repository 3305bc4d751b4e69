"""Use cases: each takes primitives and its repositories, and returns domain results."""
