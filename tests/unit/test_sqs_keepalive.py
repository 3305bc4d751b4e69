"""The local SQS endpoint's connections (qunyun_ops/local/sqs_server.py `KeepAliveHandler`): one connection carries
call after call, as SQS's endpoint lets it, each answer framed by its Content-Length; a chunked body still works
and closes the connection, as werkzeug's server did for every call."""

from __future__ import annotations

import json
import socket
import threading

import boto3
import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from qunyun_ops.local.sqs_server import KeepAliveHandler
from werkzeug.serving import make_server


@pytest.fixture
def endpoint():
    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=True,
                         request_handler=KeepAliveHandler)
    connections = []
    server.process_request = lambda request, address, serve=server.process_request: (
        connections.append(address), serve(request, address))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", connections
    server.shutdown()
    server.server_close()


# moto finds the service by the credential scope (its server serves every service on one port)
SIGNED = (b"Authorization: AWS4-HMAC-SHA256 Credential=local/20261205/us-east-1/sqs/aws4_request, "
          b"SignedHeaders=host, Signature=0\r\n")


def call(action: str, body: dict, chunked: bool = False) -> bytes:
    data = json.dumps(body).encode()
    framing = (b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n"
               if chunked else f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.0\r\n"
            b"X-Amz-Target: AmazonSQS." + action.encode() + b"\r\n" + SIGNED + framing)


def answers(sock: socket.socket, n: int) -> list[tuple[str, dict[str, str], dict]]:
    """n HTTP answers read off the socket by their Content-Length."""
    reader, out = sock.makefile("rb"), []
    for _ in range(n):
        status = reader.readline().decode().strip()
        headers = {}
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        out.append((status, headers, json.loads(reader.read(int(headers["content-length"])))))
    return out


def test_one_connection_carries_calls_one_after_another(endpoint):
    url, connections = endpoint
    # GIVEN a queue, WHEN a send and two receives go down one connection without waiting for the answers
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(call("CreateQueue", {"QueueName": "keep"}))
        (status, headers, created), = answers(sock, 1)
        queue = created["QueueUrl"]
        sock.sendall(call("SendMessage", {"QueueUrl": queue, "MessageBody": "one"})
                     + call("ReceiveMessage", {"QueueUrl": queue, "MaxNumberOfMessages": 10})
                     + call("ReceiveMessage", {"QueueUrl": queue, "MaxNumberOfMessages": 10}))
        sent, first, second = answers(sock, 3)
    # THEN each is answered in turn on that connection, framed by its length, the connection left open
    assert status.startswith("HTTP/1.1 200") and headers.get("connection") != "close"
    assert [a[0].split()[1] for a in (sent, first, second)] == ["200", "200", "200"]
    assert [m["Body"] for m in first[2]["Messages"]] == ["one"]
    assert second[2].get("Messages", []) == []  # received once: hidden for its visibility timeout
    assert len(connections) == 1


def test_a_boto3_client_keeps_its_connection_between_calls(endpoint):
    url, connections = endpoint
    sqs = boto3.client("sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="local",
                       aws_secret_access_key="local")
    queue = sqs.create_queue(QueueName="boto")["QueueUrl"]
    for i in range(5):
        sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": "0", "MessageBody": f"m{i}"}])
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    assert sorted(bodies) == [f"m{i}" for i in range(5)]
    assert len(connections) == 1


def test_a_chunked_body_is_answered_and_closes_the_connection(endpoint):
    url, _ = endpoint
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(call("CreateQueue", {"QueueName": "chunked"}, chunked=True))
        reader = sock.makefile("rb")
        head = reader.readline()
        rest = reader.read()  # to the end: the server closes the connection after this answer
    assert head.startswith(b"HTTP/1.1 200")
    assert b"connection: close" in rest.lower() and b'"QueueUrl"' in rest
