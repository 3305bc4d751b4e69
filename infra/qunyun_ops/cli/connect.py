"""`qunyun connect ...`: a tenant's platform apps, whose callbacks InboundApi verifies (API.md §6)."""

from __future__ import annotations

import typer
from rich.markup import escape

from qunyun_ops.cli.output import (
    JsonOption,
    LocalOption,
    TenantOption,
    connect,
    err,
    out,
    print_json,
    print_table,
    reporting_errors,
)

app = typer.Typer(no_args_is_help=True)


def _secret(value: str | None, label: str) -> str:
    """A secret left out of the command line is asked for, hidden, on stderr (stdout stays the output)."""
    return value if value else typer.prompt(label, hide_input=True, err=True)


def base_url(local: bool) -> str:
    """Where the callbacks go: the local stack's gateway, or the HttpApi of the stack on AWS."""
    if local:
        from qunyun_ops.env import read_state

        return f"http://127.0.0.1:{read_state()['port']}"
    import os

    import boto3

    stack = os.environ.get("STACK_NAME", "qunyun")
    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    return next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ApiUrl")


def _store(platform: str, tenant: str, values: dict, local: bool):
    connect(local)
    from datetime import UTC, datetime

    from qunyun.adapters.connections import ConnectionStore
    from qunyun.adapters.secrets import secret_store
    from qunyun.adapters.tenants import TenantRepository
    from qunyun.services.connections import callback_url
    from qunyun.services.connections import connect as connect_platform

    with reporting_errors():
        connect_platform(tenant, platform, values, tenants=TenantRepository(), connections=ConnectionStore(),
                         secrets=secret_store(), now=datetime.now(UTC))
    return callback_url(base_url(local), platform, tenant)


def _done(platform: str, tenant: str, url: str, json_: bool, extra: dict | None = None, hint: str = "") -> None:
    if json_:
        print_json({"platform": platform, "tenant_id": tenant, "callback_url": url, **(extra or {})})
        return
    out.print(f"Connected {platform} for [bold]{tenant}[/bold]. Callback URL:", highlight=False)
    out.print(url, highlight=False, markup=False)
    if hint:
        out.print(hint, highlight=False, markup=False)


@app.command("wecom")
def wecom(tenant: str = TenantOption, token: str = typer.Option(None, "--token", help="The callback Token."),
          aes_key: str = typer.Option(None, "--aes-key", help="The callback EncodingAESKey (43 characters)."),
          corp_id: str = typer.Option(None, "--corp-id", help="The corp id (default: `tenants wecom`'s)."),
          json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """WeCom customer-group callbacks (change_external_chat): paste the URL, Token and EncodingAESKey in
    客户联系 → API → 接收事件服务器."""
    values = {"token": _secret(token, "Token"), "aes_key": _secret(aes_key, "EncodingAESKey"), "corp_id": corp_id}
    _done("wecom", tenant, _store("wecom", tenant, values, local), json_)


@app.command("feishu")
def feishu(tenant: str = TenantOption, app_id: str = typer.Option(..., "--app-id", help="The app's App ID."),
           app_secret: str = typer.Option(None, "--app-secret"),
           verification_token: str = typer.Option(None, "--verification-token"),
           encrypt_key: str = typer.Option(None, "--encrypt-key"),
           json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """A Feishu app's event subscription: paste the URL as its request URL (Encrypt Key required)."""
    values = {"app_id": app_id, "app_secret": _secret(app_secret, "App Secret"),
              "verification_token": _secret(verification_token, "Verification Token"),
              "encrypt_key": _secret(encrypt_key, "Encrypt Key")}
    _done("feishu", tenant, _store("feishu", tenant, values, local), json_)


@app.command("dingtalk")
def dingtalk(tenant: str = TenantOption, app_key: str = typer.Option(..., "--app-key", help="The app's AppKey."),
             app_secret: str = typer.Option(None, "--app-secret"), token: str = typer.Option(None, "--token"),
             aes_key: str = typer.Option(None, "--aes-key"),
             json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """A DingTalk app's event subscription (HTTP push) and its robot's message receiving address."""
    values = {"app_key": app_key, "app_secret": _secret(app_secret, "AppSecret"), "token": _secret(token, "Token"),
              "aes_key": _secret(aes_key, "aes_key")}
    _done("dingtalk", tenant, _store("dingtalk", tenant, values, local), json_)


@app.command("slack")
def slack(tenant: str = TenantOption, bot_token: str = typer.Option(None, "--bot-token"),
          signing_secret: str = typer.Option(None, "--signing-secret"),
          json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """A Slack app's Events API: paste the URL as its Request URL."""
    values = {"bot_token": _secret(bot_token, "Bot token"), "signing_secret": _secret(signing_secret, "Signing secret")}
    _done("slack", tenant, _store("slack", tenant, values, local), json_)


@app.command("telegram")
def telegram(tenant: str = TenantOption, bot_token: str = typer.Option(None, "--bot-token"),
             no_register: bool = typer.Option(False, "--no-register", help="Print the secret token instead of "
                                              "calling setWebhook."),
             json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """A Telegram bot: registers the webhook (setWebhook with a new secret token, chat_member included)."""
    from qunyun.inbound.telegram import new_secret_token

    token, secret_token = _secret(bot_token, "Bot token"), new_secret_token()
    url = _store("telegram", tenant, {"bot_token": token, "secret_token": secret_token}, local)
    if no_register:
        _done("telegram", tenant, url, json_, {"secret_token": secret_token},
              f"Register it with setWebhook, secret_token {secret_token} and allowed_updates "
              "[\"message\", \"chat_member\", \"my_chat_member\"].")
        return
    from qunyun.channels.telegram_webhook import WebhookRefused, set_webhook
    from qunyun.settings import get_settings

    try:
        set_webhook(get_settings().telegram_base_url, token.strip(), url, secret_token)
    except WebhookRefused as e:
        err.print(f"[red]error:[/red] Telegram refused setWebhook: {escape(str(e))}", highlight=False)
        raise typer.Exit(1) from None
    _done("telegram", tenant, url, json_, {"registered": True})


@app.command("show")
def show(tenant: str = TenantOption, json_: bool = JsonOption, local: bool = LocalOption) -> None:
    """Each connection: its callback URL, last event and the callbacks refused by reason."""
    connect(local)
    from qunyun.adapters.connections import ConnectionStore
    from qunyun.services.connections import show as show_connections

    rows = show_connections(tenant, base_url(local), connections=ConnectionStore())
    if json_:
        print_json(rows)
        return
    print_table(f"Connections of {tenant}", ("platform", "callback_url", "last_event_at", "refusals"),
                [(r["platform"], r["callback_url"], r["last_event_at"] or "-",
                  ", ".join(f"{k} {v}" for k, v in r["refusals"].items()) or "-") for r in rows])
