"""WeCom's customer-group callbacks: the URL check (GET, the decrypted `echostr` answered as plain text) and
events (POST, `<xml><Encrypt>…</Encrypt></xml>`), both opened with the shared MsgCrypt. XML is read with
defusedxml, so an entity bomb or an external entity is refused, not expanded."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from qunyun.inbound.msgcrypt import MsgCrypt
from qunyun.inbound.refusal import CallbackRefused


def _xml(text: str | bytes) -> Element:
    try:
        return fromstring(text)
    except (ParseError, DefusedXmlException, ValueError):
        raise CallbackRefused("unparsable", "the body is not XML WeCom would send") from None


def _query(query: dict[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not query.get(name)]
    if missing:
        raise CallbackRefused("signature_invalid", f"the query lacks {', '.join(missing)}")
    return [query[name] for name in names]


def url_check(crypt: MsgCrypt, query: dict[str, str]) -> str:
    """The plaintext of `echostr`, which WeCom expects back within 1 s (query values already URL-decoded)."""
    return crypt.open(*_query(query, "msg_signature", "timestamp", "nonce", "echostr"))


def open_event(crypt: MsgCrypt, query: dict[str, str], body: bytes) -> dict[str, object]:
    """The event's fields, by tag; `MemChangeList` becomes the list of its member ids."""
    encrypted = _xml(body).findtext("Encrypt")
    if not encrypted:
        raise CallbackRefused("unparsable", "the body has no Encrypt element")
    event = _xml(crypt.open(*_query(query, "msg_signature", "timestamp", "nonce"), encrypted))
    fields: dict[str, object] = {child.tag: (child.text or "").strip() for child in event
                                 if child.tag != "MemChangeList"}
    members = event.find("MemChangeList")
    if members is not None:
        fields["MemChangeList"] = [(item.text or "").strip() for item in members.iter("Item")]
    return fields
