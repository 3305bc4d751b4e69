"""Each platform's callback scheme against its published sample vectors (reference/inbound.md §6), used
verbatim, then round trips and tampered cases.

GIVEN a platform's own sample WHEN it is opened THEN it verifies and decrypts to the sample's plaintext;
GIVEN the same callback with one part changed THEN it is refused with the reason the API answers."""

from __future__ import annotations

import base64
import json

import pytest
from qunyun.inbound import feishu, slack, telegram
from qunyun.inbound.msgcrypt import MsgCrypt
from qunyun.inbound.refusal import CallbackRefused

# WeCom's official Python callback sample (weworkapi_python, callback/Sample.py).
WECOM = MsgCrypt("hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
                 "ww1436e0e65a779aee")
WECOM_ECHO = ("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683",
              "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==")
WECOM_MESSAGE = ("0c3914025cb4b4d68103f6bfc8db550f79dcf48e", "1476422779", "1597212914",
                 "Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTNoW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLN"
                 "shw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh"
                 "010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNf"
                 "SsPGjUQVDGxQDCWjayJOpcwocugux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+")
# DingTalk's DingTalk-Callback-Crypto sample (DingCallbackCrypto3.py, its __main__).
DINGTALK = MsgCrypt("mryue", "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7", "ding6ccabc44d2c8d38b")
DINGTALK_MESSAGE = ("03044561471240d4a14bb09372dfcfd4fd0e40cb", "1608001896814", "WL4PK6yA",
                    "0vJiX6vliEpwG3U45CtXqi+m8PXbQRARJ8p8BbDuD1EMTDf0jKpQ79QS93qEk7XHpP6u+oTTrd15NRPvNvmBKyDCYxxOK+HZ"
                    "eKju4yhELOFchzNukR+t8SB/qk4ROMu3")
# Slack's request-verification documentation.
SLACK_SECRET, SLACK_TS = "8f742231b10e8888abcd99yyyzzz85a5", "1531420618"
SLACK_BODY = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
              b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
              b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
              b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
# Feishu's decryption example ("test key" -> "hello world").
FEISHU_SAMPLE = ("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=")


def _refused(reason: str, call, *args) -> None:
    with pytest.raises(CallbackRefused) as refused:
        call(*args)
    assert refused.value.reason == reason


def test_wecom_url_check_sample_decrypts_its_echostr():
    assert WECOM.open(*WECOM_ECHO) == "1288432023552776189"  # answered as is: no quotes, no newline


def test_wecom_message_sample_decrypts_to_its_xml():
    # The sample's plaintext is the reply it encrypts in its third step.
    assert WECOM.open(*WECOM_MESSAGE) == (
        "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
        "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content><MsgId>1456453720</MsgId>"
        "<AgentID>1000002</AgentID></xml>")


def test_dingtalk_sample_decrypts_to_its_check_url():
    assert json.loads(DINGTALK.open(*DINGTALK_MESSAGE)) == {"EventType": "check_url"}


def test_slack_documented_example_verifies():
    headers = {"x-slack-request-timestamp": SLACK_TS, "x-slack-signature": SLACK_SIGNATURE}
    assert slack.signature(SLACK_SECRET, SLACK_TS, SLACK_BODY) == SLACK_SIGNATURE
    slack.verify(SLACK_SECRET, headers, SLACK_BODY, now=int(SLACK_TS) + 299)


def test_feishu_decryption_example():
    assert feishu.decrypt(*FEISHU_SAMPLE) == "hello world"


@pytest.mark.parametrize("crypt", [WECOM, DINGTALK], ids=["wecom", "dingtalk"])
def test_a_sealed_message_opens_again(crypt):
    sealed = crypt.seal('{"EventType": "chat_add_member", "名": "新人"}', "1700000000", "n0nce")
    assert crypt.open(sealed["msg_signature"], sealed["timeStamp"], sealed["nonce"], sealed["encrypt"]) == \
        '{"EventType": "chat_add_member", "名": "新人"}'
    assert len(base64.b64decode(sealed["encrypt"])) % 32 == 0  # padded to 32, not to AES's 16


def test_wecom_refuses_a_tampered_callback():
    sig, ts, nonce, ciphertext = WECOM_MESSAGE
    _refused("signature_invalid", WECOM.open, "0" * 40, ts, nonce, ciphertext)
    _refused("signature_invalid", WECOM.open, sig, str(int(ts) + 1), nonce, ciphertext)
    _refused("signature_invalid", WECOM.open, sig, ts, nonce, ciphertext[:-4] + "AAA=")


def test_wecom_refuses_a_message_made_for_another_corp():
    other = MsgCrypt(WECOM.token, WECOM.encoding_aes_key, "wwOTHERCORP0000001")
    sealed = other.seal("<xml><ChatId>wrOg</ChatId></xml>", "1700000000", "1")
    _refused("receive_id_mismatch", WECOM.open, sealed["msg_signature"], "1700000000", "1", sealed["encrypt"])


@pytest.mark.parametrize("ciphertext,why", [
    ("not base64 at all!", "not base64"),
    ("QUJD", "three bytes, not an AES block"),
    (base64.b64encode(bytes(32)).decode(), "zero blocks: padding byte 0"),
])
def test_msgcrypt_refuses_ciphertexts_that_do_not_parse(ciphertext, why):
    from qunyun.inbound.msgcrypt import signature
    sig = signature(WECOM.token, "1", "2", ciphertext)
    _refused("unparsable", WECOM.open, sig, "1", "2", ciphertext)


def test_msgcrypt_refuses_a_truncated_ciphertext():
    sig, ts, nonce, ciphertext = WECOM_MESSAGE
    short = base64.b64encode(base64.b64decode(ciphertext)[:-16]).decode()
    from qunyun.inbound.msgcrypt import signature
    _refused("unparsable", WECOM.open, signature(WECOM.token, ts, nonce, short), ts, nonce, short)


def test_slack_refuses_stale_tampered_and_unsigned_requests():
    headers = {"x-slack-request-timestamp": SLACK_TS, "x-slack-signature": SLACK_SIGNATURE}
    _refused("timestamp_out_of_window", slack.verify, SLACK_SECRET, headers, SLACK_BODY, int(SLACK_TS) + 301)
    _refused("signature_invalid", slack.verify, SLACK_SECRET, headers, SLACK_BODY + b"x", int(SLACK_TS))
    _refused("signature_invalid", slack.verify, "another secret", headers, SLACK_BODY, int(SLACK_TS))
    _refused("signature_invalid", slack.verify, SLACK_SECRET, {}, SLACK_BODY, int(SLACK_TS))
    assert slack.is_retry({"x-slack-retry-num": "1"}) and not slack.is_retry({})


def _feishu_request(event: dict, key: str = "k3y", *, sign: bool = True) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"encrypt": feishu.encrypt(key, json.dumps(event))}).encode()
    headers = {"x-lark-request-timestamp": "1700000000", "x-lark-request-nonce": "abc"}
    if sign:
        headers["x-lark-signature"] = feishu.signature("1700000000", "abc", key, body)
    return body, headers


def test_feishu_event_round_trip_and_url_verification():
    event = {"schema": "2.0", "header": {"event_id": "e1", "token": "vt"}, "event": {"message": {}}}
    assert feishu.open_event(*_feishu_request(event), "k3y", "vt") == event
    challenge = {"type": "url_verification", "challenge": "c-1", "token": "vt"}
    assert feishu.open_event(*_feishu_request(challenge, sign=False), "k3y", "vt")["challenge"] == "c-1"


def test_feishu_refuses_wrong_token_signature_key_and_shape():
    event = {"schema": "2.0", "header": {"event_id": "e1", "token": "vt"}}
    body, headers = _feishu_request(event)
    _refused("token_invalid", feishu.open_event, body, headers, "k3y", "other")
    _refused("signature_invalid", feishu.open_event, body, {**headers, "x-lark-signature": "0" * 64}, "k3y", "vt")
    _refused("unparsable", feishu.open_event, body, headers, "another key", "vt")
    _refused("unparsable", feishu.open_event, b"{not json", headers, "k3y", "vt")
    _refused("unparsable", feishu.open_event, b'{"challenge": "plain"}', headers, "k3y", "vt")


def test_telegram_secret_token():
    token = telegram.new_secret_token()
    assert telegram.TOKEN.match(token)
    telegram.verify(token, {"x-telegram-bot-api-secret-token": token})
    _refused("token_invalid", telegram.verify, token, {"x-telegram-bot-api-secret-token": token[:-1]})
    _refused("token_invalid", telegram.verify, token, {})


def _wecom_post(xml: str) -> tuple[dict[str, str], bytes]:
    sealed = WECOM.seal(xml, "1700000000", "n1")
    query = {"msg_signature": sealed["msg_signature"], "timestamp": "1700000000", "nonce": "n1"}
    return query, f"<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><Encrypt><![CDATA[" \
                  f"{sealed['encrypt']}]]></Encrypt></xml>".encode()


def test_wecom_change_external_chat_event_is_read_with_its_member_list():
    from qunyun.inbound import wecom
    query, body = _wecom_post(
        "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
        "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_chat]]></Event><ChatId><![CDATA[wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA]]></ChatId>"
        "<ChangeType><![CDATA[update]]></ChangeType><UpdateDetail><![CDATA[add_member]]></UpdateDetail>"
        "<JoinScene>3</JoinScene><MemChangeCnt>2</MemChangeCnt><MemChangeList><Item>wmA</Item><Item>wmB</Item>"
        "</MemChangeList><LastMemVer>v1</LastMemVer><CurMemVer>v2</CurMemVer></xml>")
    event = wecom.open_event(WECOM, query, body)
    assert event["UpdateDetail"] == "add_member" and event["JoinScene"] == "3"
    assert event["MemChangeList"] == ["wmA", "wmB"] and (event["LastMemVer"], event["CurMemVer"]) == ("v1", "v2")
    assert wecom.url_check(WECOM, dict(zip(("msg_signature", "timestamp", "nonce", "echostr"), WECOM_ECHO,
                                           strict=True))) == "1288432023552776189"


def test_wecom_refuses_an_entity_bomb_and_bodies_without_encrypt():
    from qunyun.inbound import wecom
    bomb = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b"<xml><Encrypt>&lol2;</Encrypt></xml>")
    query = {"msg_signature": "x", "timestamp": "1", "nonce": "2"}
    _refused("unparsable", wecom.open_event, WECOM, query, bomb)
    _refused("unparsable", wecom.open_event, WECOM, query, b"<xml><ToUserName>x</ToUserName></xml>")
    _refused("unparsable", wecom.open_event, WECOM, query, b"<xml><unclosed>")
    inner_bomb_query, inner_bomb = _wecom_post('<!DOCTYPE x [<!ENTITY a "b">]><xml><ChatId>&a;</ChatId></xml>')
    _refused("unparsable", wecom.open_event, WECOM, inner_bomb_query, inner_bomb)
    _refused("signature_invalid", wecom.open_event, WECOM, {}, _wecom_post("<xml/>")[1])


def test_dingtalk_event_and_its_encrypted_success():
    from qunyun.inbound import dingtalk
    sig, ts, nonce, encrypted = DINGTALK_MESSAGE
    query = {"signature": sig, "timestamp": ts, "nonce": nonce}
    assert dingtalk.open_event(DINGTALK, query, json.dumps({"encrypt": encrypted}).encode()) == \
        {"EventType": "check_url"}
    answer = dingtalk.success(DINGTALK, ts)
    assert DINGTALK.open(answer["msg_signature"], answer["timeStamp"], answer["nonce"], answer["encrypt"]) == "success"
    _refused("unparsable", dingtalk.open_event, DINGTALK, query, b"[]")
    _refused("signature_invalid", dingtalk.open_event, DINGTALK, {}, json.dumps({"encrypt": encrypted}).encode())
