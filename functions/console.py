"""Console: the operators' web console under /console/ (docs/console.md): server-rendered pages of one tenant,
opened by a one-time login link from `qunyun console`; read-only except closing a guard task."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache, cached_property
from typing import Any
from urllib.parse import parse_qs, quote

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared.cookies import Cookie, SameSite
from aws_lambda_powertools.utilities.typing import LambdaContext
from qunyun.adapters.console_deps import ConsoleTables
from qunyun.adapters.console_render import language, render, translator
from qunyun.domain.errors import InvalidRequest, QunyunError
from qunyun.services import console_views as views
from qunyun.services.console_auth import SESSION_LIFETIME, LinkRefused, Session, csrf_matches, open_session, session_of
from qunyun.services.console_rollups import MetricsRollups
from qunyun.services.guard_ops import done as close_task

logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver()
COOKIE, LANG_COOKIE = "qunyun_console", "qunyun_lang"
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY",
           # No script at all; styles are the page's own; forms post only here.
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                      "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"}


class Deps(ConsoleTables):
    """The pages' repositories, each made on the first page that reads it, and the rollups port over the metrics
    table: the rates and charts read the days RollupMetrics closed."""

    @cached_property
    def rollups(self) -> MetricsRollups:
        return MetricsRollups(self.metrics)


@cache
def default_deps() -> views.ConsoleDeps:
    """Built once per execution environment; a cold start builds only the tables its page reads."""
    return Deps()


class NotLoggedIn(QunyunError):
    status, code = 401, "not_logged_in"


def _deps() -> views.ConsoleDeps:
    return app.context["deps"]


def _cookies() -> dict[str, str]:
    out = {}
    for raw in app.current_event.get("cookies") or []:
        name, _, value = raw.partition("=")
        out.setdefault(name.strip(), value.strip())
    return out


def _query(name: str, default: str | None = None) -> str | None:
    return (app.current_event.query_string_parameters or {}).get(name, default)


def _lang() -> str:
    headers = app.current_event.headers or {}
    return language(_query("lang"), _cookies().get(LANG_COOKIE), headers.get("accept-language"))


def _local() -> bool:
    """The local stack, served over plain http on 127.0.0.1: the one place a cookie may go without Secure."""
    host = (app.current_event.headers or {}).get("host", "").rsplit(":", 1)[0]
    return host in ("127.0.0.1", "localhost")


def _html(template: str, status: int = 200, cookies: list[Cookie] | None = None, **context: Any) -> Response:
    lang = _lang()
    jar = list(cookies or [])
    if _query("lang") in ("zh", "en"):
        jar.append(Cookie(LANG_COOKIE, lang, path="/console", secure=not _local(), http_only=True,
                          same_site=SameSite.LAX_MODE, max_age=365 * 86400))
    body = render(template, lang, path=app.current_event.path, **context)
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=body, headers=HEADERS,
                    cookies=jar)


def _session() -> tuple[Session, Any]:
    session = session_of(_cookies().get(COOKIE), datetime.now(UTC), keys=_deps().keys)
    if session is None:
        raise NotLoggedIn("Log in with the link `qunyun console --tenant T` prints.")
    tenant = _deps().tenants.get(session.tenant_id)
    if tenant is None:
        raise NotLoggedIn("The tenant of this session no longer exists.")
    return session, tenant


@app.exception_handler(LinkRefused)
def _refused(err: LinkRefused) -> Response:
    metrics.add_metric(name="ConsoleLinksRefused", unit=MetricUnit.Count, value=1)
    return _html("refused.html", status=403, reason=err.reason)


@app.exception_handler(QunyunError)
def _error(err: QunyunError) -> Response:
    return _html("error.html", status=err.status, http_status=err.status, code=err.code, message=err.message)


@app.exception_handler(Exception)
def _unexpected(err: Exception) -> Response:
    logger.exception("console page failed")
    return _html("error.html", status=500, http_status=500, code="internal_error",
                 message="Something went wrong on our side; retry later.")


@app.not_found
def _no_page(_: Exception) -> Response:
    return _html("error.html", status=404, http_status=404, code="not_found", message="No such page.")


@app.get("/console")
@app.get("/console/")
def home() -> Response:
    # API Gateway hands /console/ to the /console/{proxy+} route with the slash kept, and this resolver (unlike
    # the REST one) matches paths exactly: both spellings of the console's address open today's page.
    return Response(status_code=303, headers={**HEADERS, "Location": "/console/today"})


@app.get("/console/login")
def login() -> Response:
    """Spends the link, sets the session cookie and moves on to today's page (a same-site step, so the Strict
    cookie goes with it)."""
    session = open_session(_query("token") or "", datetime.now(UTC), keys=_deps().keys)
    metrics.add_metric(name="ConsoleLogins", unit=MetricUnit.Count, value=1)
    cookie = Cookie(COOKIE, session.token, path="/console", secure=not _local(), http_only=True,
                    same_site=SameSite.STRICT_MODE, max_age=int(SESSION_LIFETIME.total_seconds()))
    return _html("login.html", cookies=[cookie], tenant_id=session.tenant_id)


@app.get("/console/today")
def today_page() -> Response:
    session, tenant = _session()
    return _html("today.html", tenant=tenant, page="today", v=views.today(tenant, datetime.now(UTC), _deps()))


@app.get("/console/groups")
def groups_page() -> Response:
    session, tenant = _session()
    filters = {k: _query(k) for k in ("kind", "tag", "store", "rep") if _query(k)}
    table = views.groups_table(tenant, datetime.now(UTC), _deps(), sort=_query("sort", "group_id"),
                               descending=_query("dir") == "desc", filters=filters)
    return _html("groups.html", tenant=tenant, page="groups", v=table)


@app.get("/console/groups/<group_id>")
def group_page(group_id: str) -> Response:
    session, tenant = _session()
    shown = views.group_page(tenant, group_id, datetime.now(UTC), _deps(), translator(_lang()))
    return _html("group.html", tenant=tenant, page="groups", v=shown)


def _board_query() -> tuple[str, int]:
    period = _query("period", "month")
    if period not in ("day", "week", "month"):
        raise InvalidRequest("period must be day, week or month.", field="period")
    n = _query("n", "20")
    if not (n or "").isdigit() or not 1 <= int(n) <= 500:
        raise InvalidRequest("n must be a whole number from 1 to 500.", field="n")
    return period, int(n)


@app.get("/console/points")
def points_page() -> Response:
    session, tenant = _session()
    period, n = _board_query()
    return _html("points.html", tenant=tenant, page="points",
                 v=views.points_page(tenant, datetime.now(UTC), _deps(), period, n))


@app.get("/console/points/top.csv")
def points_csv() -> Response:
    """The top N for a KOC campaign: rank, member_id, points (what `qunyun points top --csv` prints)."""
    session, tenant = _session()
    period, n = _board_query()
    board = views.points_page(tenant, datetime.now(UTC), _deps(), period, n)["board"]
    lines = ["rank,member_id,points"] + [f"{e['rank']},{_csv_cell(e['member_id'])},{e['points']}"
                                         for e in board["entries"]]
    name = quote(f"top-{n}-{period}-{tenant.tenant_id}.csv")
    return Response(status_code=200, content_type="text/csv; charset=utf-8", body="\r\n".join(lines) + "\r\n",
                    headers={**HEADERS, "Content-Disposition": f"attachment; filename*=UTF-8''{name}"})


def _csv_cell(value: str) -> str:
    # Quoted, and a leading = + - @ made inert so a spreadsheet never runs a member id as a formula.
    text = ("'" + value) if value[:1] in ("=", "+", "-", "@") else value
    return '"' + text.replace('"', '""') + '"'


@app.get("/console/guard")
def guard_page() -> Response:
    session, tenant = _session()
    return _html("guard.html", tenant=tenant, page="guard", v=views.guard_page(tenant, _deps()),
                 csrf=session.csrf, closed=_query("closed"))


@app.post("/console/guard/tasks/<task_id>/close")
def close_guard_task(task_id: str) -> Response:
    """The console's only write: an operator made the removal by hand. The form carries the session's CSRF token."""
    from qunyun.web import raw_body  # the only form the console takes; the module loads the tenants' table

    session, tenant = _session()
    form = parse_qs(raw_body(app.current_event.raw_event).decode("utf-8", "replace"))
    if not csrf_matches(session, (form.get("csrf") or [None])[0]):
        raise QunyunError("The form is stale or came from elsewhere; reload the page and try again.",
                          code="csrf_mismatch", status=403)
    close_task(tenant.tenant_id, task_id, datetime.now(UTC), log=_deps().guard_log)
    logger.info("guard task closed from the console", extra={"tenant_id": tenant.tenant_id, "task_id": task_id})
    return Response(status_code=303, headers={**HEADERS, "Location": f"/console/guard?closed={quote(task_id)}"})


@app.get("/console/flash")
def flash_page() -> Response:
    session, tenant = _session()
    return _html("flash.html", tenant=tenant, page="flash", v=views.flash_page(tenant, _deps()))


def process(event: dict, context: LambdaContext, deps: views.ConsoleDeps | None = None) -> dict:
    app.append_context(deps=deps or default_deps())
    return app.resolve(event, context)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process(event, context)
