"""`qunyun welcome set|show` on DynamoDB Local: a file checked whole (any error names its line and changes nothing),
the welcome a signed join callback brings in the tenant's text, override and window, and the tenant's WeCom group
welcome template added once, then edited, on the fake WeCom."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime

import inbound_api
import process_group_events
import pytest
import send_pushes
from fakes.callbacks import TelegramCallbacks
from fakes.wecom_customer_group import FakeWecomCustomerGroups
from qunyun.adapters.connections import ConnectionStore
from qunyun.adapters.credentials import CachedCredentials
from qunyun.adapters.groups import GroupRepository
from qunyun.adapters.secrets import secret_store
from qunyun.adapters.tenants import TenantRepository
from qunyun.adapters.welcomes import WelcomeStore
from qunyun.domain.push_messages import parse_push
from qunyun.services.connections import connect
from qunyun.services.groups import import_groups
from qunyun.services.inbound import InboundDeps
from qunyun.services.push_send import send_message
from qunyun.services.tenants import set_wecom_corp
from qunyun.services.welcome_settings import WelcomeWindows
from qunyun.settings import get_settings
from support import http_event
from test_group_events import HEADER, sqs_event
from test_group_welcomes import Recorder
from typer.testing import CliRunner

GOOD = """\
text: |
  欢迎 {{ newcomers }} 加入{{ group.name }}！
  群规：不发广告，每天发“{{ rules.checkin_keywords[0] }}”领积分
window_seconds: 120
overrides:
  - for: {kinds: [welfare]}
    text: 福利群欢迎 {{ newcomers }}！
"""
SECRET_TOKEN = "tg-secret-token-1"


def cli(*args: str):
    from qunyun_ops.cli import app

    return CliRunner().invoke(app, list(args))


def write(tmp_path, text: str, name: str = "welcome.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(("text", "line", "says"), [
    ("text: |\n  欢迎 {{ newcomers }\n", 2, "TemplateSyntaxError"),  # a Jinja2 syntax error, at its own line
    ("window_seconds: 60\ntext: |\n  你好\n  欢迎 {{ newcomer }}\n", 4, "'newcomer' is undefined"),
    ("text: 你好\ncolour: red\n", 2, "colour: Extra inputs are not permitted"),
    ("text: 你好\nwindow_seconds: 5\n", 2, "window_seconds: Input should be greater than or equal to 10"),
    ("window_seconds: 3600\n", 1, "window_seconds: Input should be less than or equal to 600"),
    ("overrides:\n  - for: {kinds: [flsh]}\n    text: 你好\n", 2, "unknown group kind 'flsh'"),
    ("overrides:\n  - text: 你好\n", 2, "overrides.0.for: Field required"),
    ("text: 你好\noverrides:\n  - for: {tags: [vip]}\n    text: |\n      一\n      {% if %}二\n", 6,
     "overrides.0.text: TemplateSyntaxError"),
    ("text: '{{ group.name.__class__ }}'\n", 1, "SecurityError"),  # the sandbox's refusal, like a brief's
])
def test_a_bad_file_names_its_line_and_changes_nothing(tenant, tmp_path, text, line, says):
    # GIVEN a welcome set from a good file
    assert cli("welcome", "set", write(tmp_path, GOOD), "--tenant", tenant.tenant_id).exit_code == 0
    # WHEN a bad one is set
    refused = cli("welcome", "set", write(tmp_path, text, "bad.yaml"), "--tenant", tenant.tenant_id)
    # THEN it is refused, naming the line and what is wrong, and the welcome in force is the good file's
    assert refused.exit_code == 2, refused.output
    said = " ".join(refused.output.split())
    assert f"line {line}," in said and says in said and "Nothing was changed" in said
    stored = WelcomeStore().get(tenant.tenant_id)
    assert stored.version == 1 and stored.file.window_seconds == 120


def test_show_gives_the_default_until_a_file_is_set(tenant, tmp_path):
    shown = json.loads(cli("welcome", "show", "--tenant", tenant.tenant_id, "--json").output)
    assert shown["default_text"] is True and shown["text"].startswith("欢迎 {{ newcomers }}")
    assert (shown["window_seconds"], shown["version"], shown["wecom_template_id"]) == (60, 0, None)
    assert cli("welcome", "set", write(tmp_path, "window_seconds: 30\n"), "--tenant", tenant.tenant_id).exit_code == 0
    shown = json.loads(cli("welcome", "show", "--tenant", tenant.tenant_id, "--json").output)
    assert shown["default_text"] is True and (shown["window_seconds"], shown["version"]) == (30, 1)


def signed_join(tenant, chat: int, update_id: int, user_id: int, name: str, at: int) -> list:
    """A Telegram chat_member join, signed with the tenant's secret token, through InboundApi; its events."""
    queued = []

    class Queue:
        def send(self, events):
            queued.extend(events)
            return len(events)

    user = {"id": user_id, "first_name": name}
    call = TelegramCallbacks(SECRET_TOKEN).update({"update_id": update_id, "chat_member": {
        "chat": {"id": chat, "type": "supergroup"}, "from": user, "date": at,
        "old_chat_member": {"status": "left", "user": user}, "new_chat_member": {"status": "member", "user": user}}})
    event = http_event(call.method, call.path("telegram", tenant.tenant_id), call.body, call.headers)
    event["pathParameters"] = {"platform": "telegram", "tenant": tenant.tenant_id}
    deps = InboundDeps(credentials=CachedCredentials(ConnectionStore(), secret_store(), 0), queue=Queue(),
                       refusals=ConnectionStore(), clock=time.time)
    assert inbound_api.process(event, None, deps)["statusCode"] == 200
    return queued


def test_a_join_is_welcomed_with_the_tenants_text_override_and_window(tenant, tmp_path, context):
    # GIVEN two Telegram groups (one a welfare group), a Telegram connection and the tenant's welcome file
    import_groups(tenant.tenant_id, "\n".join([HEADER, "tg,电报群,traffic,telegram_bot,,BOT:TOKEN,,-100200,,,,,,,",
                                               "wf,福利群,welfare,telegram_bot,,BOT:TOKEN,,-100300,,,,,,,"]),
                  tenants=TenantRepository(), groups=GroupRepository(), secrets=secret_store())
    connect(tenant.tenant_id, "telegram", {"bot_token": "1:A", "secret_token": SECRET_TOKEN},
            tenants=TenantRepository(), connections=ConnectionStore(), secrets=secret_store(), now=datetime.now(UTC))
    assert cli("welcome", "set", write(tmp_path, GOOD), "--tenant", tenant.tenant_id).exit_code == 0
    queued: list = []
    base = process_group_events.default_deps()
    deps = replace(base, welcome_window=WelcomeWindows(WelcomeStore()),
                   checkins=replace(base.checkins, reply=lambda m, delay: queued.append((m.body(), delay))))
    now = int(time.time())
    # WHEN a member whose name tries to mention everyone joins each group, through signed callbacks
    events = signed_join(tenant, -100200, 1, 7, "<@all> **Bob**\x07", now)
    events += signed_join(tenant, -100300, 2, 8, "Cy", now)
    assert process_group_events.process(sqs_event(events), context, deps) == {"batchItemFailures": []}
    # THEN each group's welcome is queued for the tenant's 120-second window, delayed until it closes
    assert [(b["group_ids"], b["seconds"], b["window"] % 120) for b, _ in queued] == [(["tg"], 120, 0),
                                                                                      (["wf"], 120, 0)]
    assert all(0 < delay <= 122 for _, delay in queued)
    # AND SendPushes sends the tenant's text, or the welfare override, naming the newcomer inert
    recorder = Recorder()
    send = replace(send_pushes.default_deps().send, channel=lambda name: recorder)
    for body, _ in queued:
        send_message(parse_push(body), deps=send)
    sent = dict(recorder.sent)
    assert sent["tg"].startswith("欢迎 &lt;＠all&gt; **Bob** 加入电报群！") and "每天发“签到”领积分" in sent["tg"]
    assert "@all" not in sent["tg"] and "\x07" not in sent["tg"]
    assert sent["wf"] == "福利群欢迎 Cy！"


@pytest.fixture
def wecom(monkeypatch):
    """The fake WeCom, where the CLI's WeCom calls go."""
    with FakeWecomCustomerGroups() as fake:
        fake.add_corp("ww1", "corp-secret-1")
        monkeypatch.setenv("QUNYUN_WECOM_BASE_URL", fake.base_url)
        get_settings.cache_clear()
        yield fake
    monkeypatch.undo()
    get_settings.cache_clear()


def test_the_wecom_template_is_added_once_then_edited(tenant, tmp_path, wecom):
    set_wecom_corp(tenant.tenant_id, "ww1", "corp-secret-1", tenants=TenantRepository(), secrets=secret_store())
    # GIVEN the tenant's first welcome file
    first = cli("welcome", "set", write(tmp_path, GOOD), "--tenant", tenant.tenant_id)
    assert first.exit_code == 0, first.output
    # THEN WeCom got one template, naming the newcomer with its own placeholder, for no group in particular
    [(template_id, template)] = wecom.welcome_templates.items()
    assert template["text"].startswith("欢迎 %NICKNAME% 加入本群！") and template["notify"] == 1
    assert template_id in first.output
    # WHEN the same file is set again, then a changed one
    assert cli("welcome", "set", write(tmp_path, GOOD), "--tenant", tenant.tenant_id).exit_code == 0
    changed = GOOD.replace("加入{{ group.name }}", "来到{{ group.name }}")
    assert cli("welcome", "set", write(tmp_path, changed), "--tenant", tenant.tenant_id).exit_code == 0
    # THEN the one template was edited each time, never added again, and `welcome show` names it
    assert (wecom.calls("group_welcome_template/add"), wecom.calls("group_welcome_template/edit")) == (1, 2)
    assert list(wecom.welcome_templates) == [template_id] and template["text"].startswith("欢迎 %NICKNAME% 来到本群")
    shown = json.loads(cli("welcome", "show", "--tenant", tenant.tenant_id, "--json").output)
    assert (shown["wecom_template_id"], shown["version"]) == (template_id, 3)
    assert shown["wecom_text"] == template["text"]
    assert template_id in cli("welcome", "show", "--tenant", tenant.tenant_id).output


def test_a_wecom_refusal_changes_nothing(tenant, tmp_path, wecom):
    set_wecom_corp(tenant.tenant_id, "ww1", "corp-secret-1", tenants=TenantRepository(), secrets=secret_store())
    # GIVEN WeCom refusing the app (no 客户联系 permission): the first file is refused, and nothing is stored
    wecom.force_errcode(48002, 60, "api forbidden")
    refused = cli("welcome", "set", write(tmp_path, GOOD), "--tenant", tenant.tenant_id)
    assert refused.exit_code == 1 and "WeCom refused to add" in refused.output and "48002" in refused.output
    assert WelcomeStore().get(tenant.tenant_id) is None and wecom.welcome_templates == {}
    # WHEN WeCom takes the file, then refuses the next one
    wecom.clock.advance(61)
    assert cli("welcome", "set", write(tmp_path, GOOD), "--tenant", tenant.tenant_id).exit_code == 0
    [(template_id, template)] = wecom.welcome_templates.items()
    before = template["text"]
    wecom.force_errcode(48002, 60, "api forbidden")
    refused = cli("welcome", "set", write(tmp_path, "text: 别的欢迎\nwindow_seconds: 30\n"), "--tenant",
                  tenant.tenant_id)
    # THEN the refusal says so, and the stored file, its version and the template are as they were
    assert refused.exit_code == 1 and f"edit template {template_id}" in " ".join(refused.output.split())
    stored = WelcomeStore().get(tenant.tenant_id)
    assert (stored.version, stored.file.window_seconds, stored.wecom_template_id) == (1, 120, template_id)
    assert template["text"] == before and template["edits"] == 0


def test_a_wecom_template_over_3000_bytes_is_refused_before_wecom_is_asked(tenant, tmp_path, wecom):
    set_wecom_corp(tenant.tenant_id, "ww1", "corp-secret-1", tenants=TenantRepository(), secrets=secret_store())
    long = "text: |\n  " + "欢" * 1001 + "\n"  # 3,003 bytes of UTF-8
    refused = cli("welcome", "set", write(tmp_path, long), "--tenant", tenant.tenant_id)
    assert refused.exit_code == 2 and "3000" in refused.output
    assert wecom.requests == [] and WelcomeStore().get(tenant.tenant_id) is None


def test_a_template_deleted_in_wecom_is_replaced_on_request(tenant, tmp_path, wecom):
    set_wecom_corp(tenant.tenant_id, "ww1", "corp-secret-1", tenants=TenantRepository(), secrets=secret_store())
    assert cli("welcome", "set", write(tmp_path, GOOD), "--tenant", tenant.tenant_id).exit_code == 0
    [first] = wecom.welcome_templates
    # GIVEN the template deleted in the admin console: editing it is refused, and the refusal says what to do
    wecom.welcome_templates.clear()
    refused = cli("welcome", "set", write(tmp_path, GOOD), "--tenant", tenant.tenant_id)
    assert refused.exit_code == 1 and "--new-wecom-template" in " ".join(refused.output.split())
    # WHEN the file is set again asking for a new template
    again = cli("welcome", "set", write(tmp_path, GOOD), "--tenant", tenant.tenant_id, "--new-wecom-template")
    # THEN WeCom has a new one, and it is the one stored
    assert again.exit_code == 0, again.output
    [second] = wecom.welcome_templates
    assert second != first and WelcomeStore().get(tenant.tenant_id).wecom_template_id == second


def test_without_wecom_credentials_wecoms_limit_does_not_apply(tenant, tmp_path):
    long = "text: |\n  " + "欢" * 1500 + "\n"  # 4,500 bytes: over WeCom's 3,000, within the file's 2,000 characters
    assert cli("welcome", "set", write(tmp_path, long), "--tenant", tenant.tenant_id).exit_code == 0
    stored = WelcomeStore().get(tenant.tenant_id)
    assert (stored.wecom_template_id, stored.wecom_text) == (None, None) and len(stored.file.text) == 1501
