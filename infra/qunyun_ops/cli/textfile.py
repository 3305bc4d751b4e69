"""Every file the CLI reads (group CSV, rules, rewards, briefs, events, flash files, templates) is read here.

Chinese Excel saves CSV as GB18030/GBK unless told otherwise, so a file is read as UTF-8 (with or without a
byte-order mark) or else as GB18030, and the command says which; a file that is neither is refused with the
first byte each reading stumbled on, rather than imported as mojibake.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from qunyun.domain.errors import InvalidRequest

FIX = "save it as UTF-8 (Excel: Save As → CSV UTF-8) and try again"


@dataclass(frozen=True)
class TextFile:
    path: Path
    text: str
    encoding: str  # UTF-8, UTF-8 with BOM or GB18030

    @property
    def note(self) -> str:
        return f"read {self.path.name} as {self.encoding}"


def _where(data: bytes, e: UnicodeDecodeError) -> str:
    line = data.count(b"\n", 0, e.start) + 1
    return f"byte 0x{data[e.start]:02X} at offset {e.start}, line {line}"


def decode(data: bytes, name: str) -> tuple[str, str]:
    """The text and the encoding it was read as; InvalidRequest naming the bad bytes when it is neither."""
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8):].decode("utf-8"), "UTF-8 with BOM"
        except UnicodeDecodeError as e:
            e.start += len(codecs.BOM_UTF8)
            raise InvalidRequest(f"{name}: starts as UTF-8 but is not: {_where(data, e)}; {FIX}.") from None
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as e:
        not_utf8 = _where(data, e)
    try:
        return data.decode("gb18030"), "GB18030"
    except UnicodeDecodeError as e:
        not_gb = _where(data, e)
    raise InvalidRequest(f"{name}: neither UTF-8 ({not_utf8}) nor GB18030 ({not_gb}); {FIX}.")


def read_text(path: Path, *, say: bool = True) -> TextFile:
    """The file's text, as UTF-8 or GB18030, saying on stderr which it was read as; InvalidRequest when it is
    missing or neither."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidRequest(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise InvalidRequest(f"{path}: is a folder, not a file.") from None
    text, encoding = decode(data, str(path))
    read = TextFile(path, text, encoding)
    if say:
        from qunyun_ops.cli.output import err

        err.print(read.note, highlight=False)
    return read
