"""Block Kit's documented limits (https://docs.slack.dev/reference/block-kit), checked on a
message the way Slack would: every block parses and validates with slack_sdk's models,
and the limits the models do not check are checked here."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ELEMENTS = 25
MAX_OPTIONS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_TABLE_ROWS = 100
MAX_TABLE_CELLS = 20
MAX_BLOCK_ID = 255


def check_message(message: dict[str, Any], max_blocks: int = MAX_BLOCKS) -> list[dict[str, Any]]:
    """The blocks of a message, after asserting every limit; a message must have text."""
    blocks = message["blocks"]
    assert str(message.get("text", "")).strip(), "every message needs a fallback text"
    assert 0 < len(blocks) <= max_blocks
    assert sum(1 for b in blocks if b["type"] == "table") <= 1, "one table block a message"
    action_ids: list[str] = []
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()
        assert len(raw.get("block_id", "")) <= MAX_BLOCK_ID
        kind = raw["type"]
        if kind == "header":
            assert len(raw["text"]["text"]) <= MAX_HEADER_TEXT
        elif kind == "section":
            assert len(raw["text"]["text"]) <= MAX_SECTION_TEXT
        elif kind == "context":
            assert 0 < len(raw["elements"]) <= MAX_CONTEXT_ELEMENTS
        elif kind == "table":
            assert 0 < len(raw["rows"]) <= MAX_TABLE_ROWS
            widths = {len(row) for row in raw["rows"]}
            assert len(widths) == 1 and 0 < widths.pop() <= MAX_TABLE_CELLS
            assert len(raw.get("column_settings", [])) <= MAX_TABLE_CELLS
        elif kind == "actions":
            assert 0 < len(raw["elements"]) <= MAX_ACTION_ELEMENTS
            for element in raw["elements"]:
                action_ids.append(element["action_id"])
                if element["type"] == "button":
                    assert len(element["text"]["text"]) <= MAX_BUTTON_TEXT
                    assert len(element.get("value", "")) <= MAX_BUTTON_VALUE
                elif element["type"] == "static_select":
                    assert 0 < len(element["options"]) <= MAX_OPTIONS
                    for option in element["options"]:
                        assert len(option["text"]["text"]) <= MAX_OPTION_TEXT
                        assert len(option["value"]) <= MAX_OPTION_VALUE
                    if "initial_option" in element:
                        assert element["initial_option"] in element["options"]
    assert len(action_ids) == len(set(action_ids)), "action ids are unique in a message"
    json.dumps(message)  # plain JSON all the way down
    return blocks
