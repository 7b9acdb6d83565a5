"""manifest.yml creates the Slack app as the code expects it (command, scopes, events)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from toprank.bot.listeners.common import SLASH_COMMAND

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_manifest_has_the_sections_slack_requires(manifest: dict) -> None:
    assert manifest["_metadata"]["major_version"] == 1
    assert manifest["display_information"]["name"] == "toprank"
    assert len(manifest["display_information"]["description"]) <= 140
    long_description = manifest["display_information"]["long_description"]
    assert 175 <= len(long_description) <= 4000  # Slack's bounds for this field


def test_slash_command_matches_the_listener(manifest: dict) -> None:
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [SLASH_COMMAND]
    assert commands[0]["usage_hint"]
    assert len(commands[0]["description"]) <= 100


def test_bot_user_and_app_home(manifest: dict) -> None:
    features = manifest["features"]
    assert features["bot_user"]["display_name"] == "toprank"
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["assistant_view"]["assistant_description"]


def test_scopes_cover_every_web_api_call_the_app_makes(manifest: dict) -> None:
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {
        "commands",  # /toprank
        "chat:write",  # answers and shared answers (chat.postMessage)
        "app_mentions:read",  # app_mention events
        "im:history",  # message.im events
        "im:write",  # conversations.open for files of private answers
        "files:write",  # files_upload_v2 (chart, CSV)
        "assistant:write",  # assistant.threads.setStatus / setTitle / setSuggestedPrompts
    }
    assert needed <= scopes


def test_events_interactivity_and_socket_mode(manifest: dict) -> None:
    settings = manifest["settings"]
    assert set(settings["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "message.im",
        "app_home_opened",
        "assistant_thread_started",  # the assistant pane (bot/listeners/assistant.py)
        "assistant_thread_context_changed",
    }
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["socket_mode_enabled"] is True
    assert settings["org_deploy_enabled"] is False
