"""Prints functions/requirements.txt from pyproject.toml's runtime dependencies."""

from __future__ import annotations

import tomllib

from qunyun_ops.paths import ROOT

HEADER = "# Generated from pyproject.toml by `make requirements`; do not edit by hand.\n"


def render() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return HEADER + "".join(f"{dep}\n" for dep in sorted(project["dependencies"], key=str.lower))


if __name__ == "__main__":
    print(render(), end="")
