"""Fake operator bridge for the signed_webhook channel: checks qunyun's signature as a partner would."""

from __future__ import annotations

import hashlib
import hmac
import itertools

from fakes.base import Answer, FakeServer, Request, json_or_none

WINDOW = 300


class FakeBridge(FakeServer):
    def __init__(self, secret: str, clock=None):
        super().__init__(clock)
        self.secret = secret
        self.received: list[dict] = []
        self.seen_keys: set[str] = set()
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"{self.base_url}/hooks/qunyun?shop=1"

    def handle(self, request: Request) -> Answer:
        ts = request.headers.get("x-qunyun-timestamp", "")
        signature = request.headers.get("x-qunyun-signature", "")
        # API.md §1's recipe, computed here without qunyun's code.
        payload = f"{ts}.{request.method}.{request.raw_path}.".encode() + request.body
        expected = "sha256=" + hmac.new(self.secret.encode(), payload, hashlib.sha256).hexdigest()
        if not ts.isdigit() or abs(self.clock() - int(ts)) > WINDOW:
            return Answer(401, {"error": {"code": "timestamp_out_of_window"}})
        if not hmac.compare_digest(signature, expected):
            return Answer(401, {"error": {"code": "signature_invalid"}})
        envelope = json_or_none(request)
        if not isinstance(envelope, dict) or envelope.get("type") != "qunyun.message":
            return Answer(400, {"error": {"code": "invalid_request"}})
        if envelope.get("key") in self.seen_keys:
            return Answer(200, {"status": "duplicate"})
        if envelope.get("key"):
            self.seen_keys.add(envelope["key"])
        self.received.append({**envelope, "tenant": request.headers.get("x-qunyun-tenant")})
        return Answer(200, {"message_id": f"b-{next(self._ids)}"})
