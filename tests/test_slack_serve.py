"""`toprank serve`: token checks (one line, exit 2, no traceback) and the real HTTP mode."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from toprank.bot.serve import EXIT_USAGE, SlackSettings, settings_from_env

SLACK_VARS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_BASE_URL")


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SLACK_VARS}
    env["TOPRANK_DB"] = str(tmp_path / "never-built.duckdb")
    env.update(extra)
    return env


def run_serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "toprank.bot.cli", "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "extra", "names"),
    [
        ((), {}, ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]),
        ((), {"SLACK_BOT_TOKEN": "xoxb-1"}, ["SLACK_APP_TOKEN"]),
        (("--http",), {}, ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]),
        (("--http",), {"SLACK_BOT_TOKEN": "xoxb-1"}, ["SLACK_SIGNING_SECRET"]),
    ],
)
def test_missing_tokens_give_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], extra: dict[str, str], names: list[str]
) -> None:
    result = run_serve(clean_env(tmp_path, **extra), *args)
    assert result.returncode == EXIT_USAGE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for name in names:
        assert name in lines[0]
    assert "toprank chat" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "never-built.duckdb").exists()  # nothing opened or built


def test_settings_choose_the_mode() -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "SLACK_SIGNING_SECRET": "s"}
    socket = settings_from_env(env, http=False)
    assert isinstance(socket, SlackSettings) and socket.mode == "socket"
    assert socket.app_token == "xapp-1" and socket.base_url is None
    http = settings_from_env({**env, "SLACK_API_BASE_URL": "http://127.0.0.1:9/api/"}, http=True)
    assert isinstance(http, SlackSettings) and http.mode == "http"
    assert http.base_url == "http://127.0.0.1:9/api/"
    # Socket Mode needs no signing secret (Slack signs nothing on a socket).
    no_secret = settings_from_env({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "x"}, http=False)
    assert isinstance(no_secret, SlackSettings)


def test_serve_http_answers_a_signed_slash_command(tmp_path: Path, demo_db: Path) -> None:
    """The real `toprank serve --http` process, its Web API calls going to the mock."""
    from tests.slack_mock import (
        BOT_TOKEN,
        SIGNING_SECRET,
        SlackMock,
        post_signed,
        slash_command_body,
    )

    mock = SlackMock()
    env = clean_env(
        tmp_path,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_BASE_URL=mock.base_url,
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "toprank.bot.cli",
            "serve",
            "--http",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ]
        + ["--db", str(demo_db)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    ).start()
    try:
        first = lines.get(timeout=120)
        match = re.fullmatch(
            r"toprank: listening on (http://127\.0\.0\.1:\d+/slack/events)\n", first
        )
        assert match, first
        assert [c.method for c in mock.api_calls()] == ["auth.test"]  # the token was checked
        body = slash_command_body("rehab 2023 15", mock.response_url("serve"))
        reply = post_signed(match[1], body, "application/x-www-form-urlencoded")
        assert reply.status == 200
        answer = mock.wait_response("serve")[0]
        assert answer.body["response_type"] == "ephemeral"
        assert "97110" in answer.body["text"]
        rejected = post_signed(match[1], body, "application/x-www-form-urlencoded", secret="x")
        assert rejected.status == 401
    finally:
        process.terminate()
        process.wait(timeout=30)
        mock.close()


def test_a_token_slack_refuses_gives_one_line_and_exit_2(tmp_path: Path, demo_db: Path) -> None:
    from tests.slack_mock import SlackMock

    mock = SlackMock()
    mock.failures["auth.test"] = "invalid_auth"
    env = clean_env(
        tmp_path,
        SLACK_BOT_TOKEN="xoxb-revoked",
        SLACK_SIGNING_SECRET="s",
        SLACK_API_BASE_URL=mock.base_url,
    )
    try:
        result = run_serve(env, "--http", "--port", "0", "--db", str(demo_db))
    finally:
        mock.close()
    assert result.returncode == EXIT_USAGE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "did not accept the bot token" in lines[0], result.stderr
    assert "invalid_auth" in lines[0] and "Traceback" not in result.stderr
