"""Why a callback is refused, in the words the API answers with (API.md §6)."""

from __future__ import annotations

from dataclasses import dataclass

# reason -> HTTP status: a callback that fails its platform's scheme is 401, one that cannot be read 400.
STATUS = {"signature_invalid": 401, "timestamp_out_of_window": 401, "receive_id_mismatch": 401,
          "token_invalid": 401, "unparsable": 400, "too_large": 413}


@dataclass(frozen=True)
class CallbackRefused(Exception):
    reason: str
    detail: str

    def __post_init__(self) -> None:
        if self.reason not in STATUS:
            raise ValueError(f"unknown refusal reason {self.reason!r}")

    @property
    def status(self) -> int:
        return STATUS[self.reason]

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"
