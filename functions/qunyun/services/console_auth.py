"""Who may see the console: one-time login links that the CLI prints, and the sessions they open.

A link is a random token valid for 10 minutes and spent by its first use (a conditional write); a session is
another random token, in an HttpOnly cookie, valid 12 hours, bound to one tenant, with its own CSRF token for
the console's one write (closing a guard task). Only SHA-256 digests of tokens are stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from qunyun.domain.errors import QunyunError

if TYPE_CHECKING:
    from qunyun.adapters.tenants import TenantRepository

LINK_LIFETIME = timedelta(minutes=10)
SESSION_LIFETIME = timedelta(hours=12)


class KeyStore(Protocol):
    def add_link(self, digest: str, tenant_id: str, expires: datetime, now: datetime) -> None: ...
    def use_link(self, digest: str, now: datetime) -> tuple[str | None, str]: ...
    def add_session(self, digest: str, tenant_id: str, csrf: str, expires: datetime, now: datetime) -> None: ...
    def session(self, digest: str, now: datetime) -> tuple[str, str] | None: ...


class LinkRefused(QunyunError):
    """A login link that is unknown, used already or past its 10 minutes (`reason` says which)."""

    def __init__(self, reason: str):
        super().__init__(f"This login link cannot be used: {reason}.", code=f"link_{reason}", status=403)
        self.reason = reason


@dataclass(frozen=True)
class Session:
    tenant_id: str
    token: str  # what the cookie carries
    csrf: str
    expires: datetime | None = None  # known when the session is opened


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(tenant_id: str, now: datetime, *, tenants: TenantRepository, keys: KeyStore) -> tuple[str, datetime]:
    """A new login link's token for the tenant, and when it stops working."""
    from qunyun.services.groups import require_tenant  # the CLI's step; the Console's cold start does without it

    require_tenant(tenant_id, tenants)
    token, expires = secrets.token_urlsafe(32), now + LINK_LIFETIME
    keys.add_link(digest(token), tenant_id, expires, now)
    return token, expires


def open_session(token: str, now: datetime, *, keys: KeyStore) -> Session:
    """Spends the link and opens a session of its tenant; a link already used or expired is refused."""
    if not token or len(token) > 128:
        raise LinkRefused("unknown")
    tenant_id, why = keys.use_link(digest(token), now)
    if tenant_id is None:
        raise LinkRefused(why)
    session = Session(tenant_id, secrets.token_urlsafe(32), secrets.token_urlsafe(24), now + SESSION_LIFETIME)
    keys.add_session(digest(session.token), tenant_id, session.csrf, session.expires, now)
    return session


def session_of(token: str | None, now: datetime, *, keys: KeyStore) -> Session | None:
    """The session a cookie names, while it lasts."""
    if not token or len(token) > 128:
        return None
    found = keys.session(digest(token), now)
    if found is None:
        return None
    return Session(found[0], token, found[1])


def csrf_matches(session: Session, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(session.csrf.encode(), (given or "").encode())
