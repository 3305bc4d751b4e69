"""`python -m qunyun_ops.cli` is the `qunyun` command."""

from qunyun_ops.cli import main

main()
