"""The outbox channel: nothing leaves the machine; each message is stored for the operator to read or copy.

It is the local stack's default. The store is an interface: in memory for tests, JSON lines under
QUNYUN_OUTBOX_DIR on the local stack, and a DynamoDB table when one is wanted.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Protocol

from qunyun.channels.base import Channel, Clock
from qunyun.channels.result import Message, Target, transient


class OutboxStore(Protocol):
    def put(self, entry: dict) -> None:
        """Stores one message; `entry["id"]` is unique and the same for the same group, key and part."""


class MemoryOutbox:
    def __init__(self):
        self.entries: list[dict] = []
        self._lock = threading.Lock()

    def put(self, entry: dict) -> None:
        with self._lock:
            if all(e["id"] != entry["id"] for e in self.entries):  # the same key again is the same message
                self.entries.append(entry)


class FileOutbox:
    """`{dir}/{tenant}/{group}.jsonl`, one line per message: `tail -f` shows what groups would receive."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def path(self, tenant_id: str, group_id: str) -> Path:
        safe = [(s or "_").replace("/", "_").replace("..", "_") for s in (tenant_id, group_id)]
        return self.directory / safe[0] / f"{safe[1]}.jsonl"

    def put(self, entry: dict) -> None:
        path = self.path(entry["tenant_id"], entry["group_id"])
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and f'"id": "{entry["id"]}"' in path.read_text(encoding="utf-8"):
            return  # the same key again is the same message: a sender retrying after a crash
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)  # one write with O_APPEND: concurrent writers never interleave a line
        finally:
            os.close(fd)


def entry_id(target: Target, message: Message, index: int) -> str:
    if not message.key:
        return uuid.uuid4().hex
    raw = f"{target.tenant_id}\x00{target.group_id}\x00{message.key}\x00{index}".encode()
    return hashlib.sha256(raw).hexdigest()[:24]


class Outbox(Channel):
    name = "outbox"

    def __init__(self, store: OutboxStore | None = None, *, clock: Clock = time.time):
        if store is None:
            from qunyun.settings import get_settings

            directory = get_settings().outbox_dir
            store = FileOutbox(directory) if directory else MemoryOutbox()
        self.store = store
        self.clock = clock

    def prepare(self, message: Message) -> list[str]:
        text = message.text.strip()
        return [text] if text else []

    def send_part(self, target: Target, message: Message, text: str, index: int, count: int):
        entry = {"id": entry_id(target, message, index), "tenant_id": target.tenant_id,
                 "group_id": target.group_id, "key": message.key, "title": message.title, "text": text,
                 "stored_at": int(self.clock())}
        try:
            self.store.put(entry)
        except OSError as e:
            return transient("outbox_unavailable", f"could not write the outbox ({type(e).__name__})")
        return entry["id"]
