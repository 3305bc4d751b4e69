"""What the local stack's servers share: a child process on 127.0.0.1, ready once its port accepts, stopped
(terminate, then kill) with the stack."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self


class SetupError(RuntimeError):
    """Something this machine lacks; the message says what to install."""


def die_with_parent() -> None:
    """Linux: this process gets SIGTERM when the process that started it dies, even by SIGKILL (as a child's
    `preexec_fn`, or called first thing by a server process)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """Subclasses say what they are (`name`) and start their process in `spawn`."""

    name = "server"

    def __init__(self, port: int | None = None, log: Callable[[str], None] = print):
        self.port = port or free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> subprocess.Popen[bytes]:
        raise NotImplementedError

    def exit_detail(self) -> str:
        """What the process said before exiting at start, if anything."""
        return ""

    def start(self, timeout: float = 30.0) -> Self:
        self.process = self.spawn()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                detail = self.exit_detail()
                said = f": {detail}" if detail else "."
                raise SetupError(f"{self.name} exited at start on port {self.port}{said}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return self
            time.sleep(0.1)
        self.stop()
        raise SetupError(f"{self.name} did not listen on port {self.port} within {timeout:.0f} s.")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def processes_with(*words: str) -> list[int]:
    """Pids of the processes whose command line holds every one of `words` (Linux /proc): how the demo and the
    tests check that a stopped stack left no DynamoDB Local or SQS endpoint behind."""
    wanted = [w.encode() for w in words]
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if all(w in cmd for w in wanted):
                found.append(int(proc.name))
    return found
