"""`toprank serve` in Socket Mode, for real: the process asks the (mock) Web API for a
socket URL with its app token, connects, acks envelopes and answers through Slack."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.slack_mock import (
    BOT_TOKEN,
    BOT_USER_ID,
    SlackMock,
    event_callback,
    iter_blocks,
    slash_command_fields,
)

APP_TOKEN = "xapp-1-test-app-token"
SLACK_VARS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_BASE_URL")


@pytest.fixture(scope="module")
def socket_app(demo_db: Path) -> Iterator[SlackMock]:
    mock = SlackMock()
    socket = mock.start_socket_mode()
    env = {k: v for k, v in os.environ.items() if k not in SLACK_VARS}
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_APP_TOKEN=APP_TOKEN, SLACK_API_BASE_URL=mock.base_url
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "toprank.bot.cli", "serve", "--db", str(demo_db)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        socket.wait_connected()
        yield mock
    finally:
        process.terminate()
        process.wait(timeout=30)
        mock.close()


def test_socket_mode_connects_with_the_app_token(socket_app: SlackMock) -> None:
    opened = socket_app.api_calls("apps.connections.open")
    assert opened and opened[0].headers["Authorization"] == f"Bearer {APP_TOKEN}"
    assert socket_app.api_calls("auth.test")[0].headers["Authorization"] == f"Bearer {BOT_TOKEN}"


def test_slash_command_over_the_socket(socket_app: SlackMock) -> None:
    fields = slash_command_fields("ot 2022", socket_app.response_url("socket-cmd"))
    socket_app.socket.send_envelope("slash_commands", fields, "env-cmd-1")
    ack = socket_app.socket.wait_ack("env-cmd-1")
    assert ack["envelope_id"] == "env-cmd-1"
    answer = socket_app.wait_response("socket-cmd")[0]
    assert answer.body["response_type"] == "ephemeral"
    text = answer.body["text"]
    assert text.index("97110") < text.index("97140") < text.index("97530")


def test_mention_over_the_socket_is_answered_in_thread(socket_app: SlackMock) -> None:
    ts = "1700002000.000100"
    event = {
        "type": "app_mention",
        "user": "U0ALICE",
        "text": f"<@{BOT_USER_ID}> top rehab codes 2023",
        "ts": ts,
        "channel": "C0GENERAL",
    }
    socket_app.socket.send_envelope("events_api", event_callback(event), "env-evt-1")
    socket_app.socket.wait_ack("env-evt-1")
    posted = socket_app.wait_api("chat.postMessage", thread_ts=ts)[0]
    assert any(b["type"] == "header" for b in iter_blocks(posted.body["blocks"]))
