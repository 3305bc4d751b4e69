"""WeCom group robot (群机器人): markdown to an internal group, `POST /cgi-bin/webhook/send?key=KEY`.

Facts (reference/channels.md): markdown content ≤ 4096 UTF-8 bytes; 20 messages a minute per robot, over
that errcode 45009; the key is the only credential.
"""

from __future__ import annotations

from qunyun.channels import transport
from qunyun.channels.base import HttpChannel, credential
from qunyun.channels.result import Failure, Message, Target, permanent, transient
from qunyun.channels.split import fit

LIMIT_BYTES = 4096
MAX_PARTS = 10  # half the robot's minute: a long brief never starves the next group's
RATE_WINDOW_SECONDS = 60.0  # 20 a minute; WeCom does not say when the window frees up

# errcode → (transient?, what it means). Anything else is permanent: the request itself is wrong.
ERRORS = {
    -1: (True, "WeCom is busy"),
    45009: (True, "the robot sent more than 20 messages in a minute"),
    45033: (True, "too many concurrent calls"),
    93000: (False, "the webhook key is invalid or the robot was removed from the group"),
    93004: (False, "the robot is disabled"),
    40058: (False, "WeCom rejected a parameter (markdown over 4096 bytes?)"),
}


def classify(errcode: int, errmsg: str) -> Failure | None:
    if errcode == 0:
        return None
    retry, meaning = ERRORS.get(errcode, (False, f"WeCom refused the message: {errmsg[:200]}"))
    if errcode == 45009:
        return transient(str(errcode), meaning, RATE_WINDOW_SECONDS)
    return transient(str(errcode), meaning, 1.0) if retry else permanent(str(errcode), meaning)


class WecomRobot(HttpChannel):
    name = "wecom_robot"
    setting = "wecom_base_url"

    def prepare(self, message: Message) -> list[str]:
        return fit(message.text, LIMIT_BYTES, unit="bytes", markup="markdown", max_parts=MAX_PARTS,
                   read_more_url=message.read_more_url, read_more_label=message.read_more_label)

    def check(self, target: Target) -> Failure | None:
        if not credential(target.webhook_url, query="key"):
            return permanent("no_key", "the group's webhook URL has no key=...")
        return None

    def send_part(self, target: Target, message: Message, text: str, index: int, count: int):
        key = credential(target.webhook_url, query="key")
        resp = transport.post(self.client, f"{self.base_url}/cgi-bin/webhook/send", params={"key": key},
                              payload={"msgtype": "markdown", "markdown": {"content": text}})
        if isinstance(resp, Failure):
            return resp
        body = transport.json_body(resp)
        if body is None or "errcode" not in body:
            return transport.unexpected(resp, "WeCom")
        return classify(int(body["errcode"]), str(body.get("errmsg", "")))
