"""Block Kit validation: the block and element types Slack accepts and a checker that
reports invalid_blocks the way Slack does.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox.emulator.limits import MAX_MESSAGE_BLOCKS
from bot.sandbox.emulator.records import SlackError

_BLOCK_TYPES = frozenset(
    {
        "actions",
        "call",
        "context",
        "divider",
        "file",
        "header",
        "image",
        "input",
        "markdown",
        "rich_text",
        "section",
        "video",
    }
)
_ELEMENT_TYPES = frozenset(
    {
        "button",
        "channels_select",
        "checkboxes",
        "conversations_select",
        "datepicker",
        "datetimepicker",
        "email_text_input",
        "external_select",
        "file_input",
        "image",
        "multi_channels_select",
        "multi_conversations_select",
        "multi_external_select",
        "multi_static_select",
        "multi_users_select",
        "number_input",
        "overflow",
        "plain_text_input",
        "radio_buttons",
        "rich_text_input",
        "static_select",
        "timepicker",
        "url_text_input",
        "users_select",
        "workflow_button",
    }
)

# elements that carry options, with the most options each accepts
_OPTION_ELEMENTS = {
    "static_select": 100,
    "multi_static_select": 100,
    "overflow": 5,
    "radio_buttons": 10,
    "checkboxes": 10,
}


class _BlockChecker:
    """Validates Block Kit the way Slack rejects it (a subset of the documented limits)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, message: str, pointer: str) -> None:
        self.errors.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def text(self, obj: Any, pointer: str, *, max_len: int, plain_only: bool = False) -> None:
        if not isinstance(obj, dict):
            self.fail("must be an object", pointer)
            return
        kind = obj.get("type")
        allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
        if kind not in allowed:
            self.fail(f"must be one of {', '.join(allowed)}", pointer + "/type")
        value = obj.get("text")
        if not isinstance(value, str) or value == "":
            self.fail("must be more than 0 characters", pointer + "/text")
        elif len(value) > max_len:
            self.fail(f"must be less than {max_len + 1} characters", pointer + "/text")

    def element(self, element: Any, pointer: str, action_ids: set[str]) -> None:
        if not isinstance(element, dict) or element.get("type") not in _ELEMENT_TYPES:
            self.fail("must provide a valid element type", pointer)
            return
        kind = element["type"]
        action_id = element.get("action_id")
        if action_id is not None:
            if not isinstance(action_id, str) or len(action_id) > 255:
                self.fail("must be less than 256 characters", pointer + "/action_id")
            elif action_id in action_ids:
                self.fail("action_id must be unique within the block", pointer + "/action_id")
            else:
                action_ids.add(action_id)
        if kind == "button":
            self.text(element.get("text"), pointer + "/text", max_len=75, plain_only=True)
            if len(str(element.get("value", ""))) > 2000:
                self.fail("must be less than 2001 characters", pointer + "/value")
            if len(str(element.get("url", ""))) > 3000:
                self.fail("must be less than 3001 characters", pointer + "/url")
            if element.get("style") not in (None, "primary", "danger"):
                self.fail("must be one of primary, danger", pointer + "/style")
        elif kind in _OPTION_ELEMENTS:
            options = element.get("options")
            groups = element.get("option_groups")
            if options is None and groups is None:
                self.fail("must provide options or option_groups", pointer)
            if isinstance(options, list):
                limit = _OPTION_ELEMENTS[kind]
                if not options or len(options) > limit:
                    self.fail(f"must provide between 1 and {limit} items", pointer + "/options")
                for i, option in enumerate(options):
                    if not isinstance(option, dict):
                        self.fail("must be an object", f"{pointer}/options/{i}")
                        continue
                    self.text(option.get("text"), f"{pointer}/options/{i}/text", max_len=75)
                    if len(str(option.get("value", ""))) > 150:
                        where = f"{pointer}/options/{i}/value"
                        self.fail("must be less than 151 characters", where)
        if "placeholder" in element:
            where = pointer + "/placeholder"
            self.text(element["placeholder"], where, max_len=150, plain_only=True)

    def blocks(self, blocks: Any, *, max_blocks: int, pointer: str = "/blocks") -> None:
        if not isinstance(blocks, list):
            self.fail("must be an array", pointer)
            return
        if len(blocks) > max_blocks:
            self.fail(f"no more than {max_blocks} items allowed", pointer)
        block_ids: set[str] = set()
        for index, block in enumerate(blocks):
            here = f"{pointer}/{index}"
            if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
                self.fail("must provide a valid block type", here)
                continue
            block_id = block.get("block_id")
            if block_id is not None:
                if not isinstance(block_id, str) or not block_id or len(block_id) > 255:
                    self.fail("must be between 1 and 255 characters", here + "/block_id")
                elif block_id in block_ids:
                    self.fail("block_id must be unique", here + "/block_id")
                else:
                    block_ids.add(block_id)
            self.block(block, here)

    def block(self, block: dict, here: str) -> None:
        kind = block["type"]
        action_ids: set[str] = set()
        if kind == "section":
            if "text" not in block and "fields" not in block:
                self.fail("must provide either text or fields", here)
            if "text" in block:
                self.text(block["text"], here + "/text", max_len=3000)
            fields = block.get("fields")
            if fields is not None:
                if not isinstance(fields, list) or not fields or len(fields) > 10:
                    self.fail("must provide between 1 and 10 items", here + "/fields")
                else:
                    for i, field in enumerate(fields):
                        self.text(field, f"{here}/fields/{i}", max_len=2000)
            if "accessory" in block:
                self.element(block["accessory"], here + "/accessory", action_ids)
        elif kind == "header":
            self.text(block.get("text"), here + "/text", max_len=150, plain_only=True)
        elif kind in ("actions", "context"):
            elements = block.get("elements")
            limit = 25 if kind == "actions" else 10
            if not isinstance(elements, list) or not elements or len(elements) > limit:
                self.fail(f"must provide between 1 and {limit} items", here + "/elements")
                return
            for i, element in enumerate(elements):
                pointer = f"{here}/elements/{i}"
                if kind == "context":
                    if isinstance(element, dict) and element.get("type") == "image":
                        if not element.get("alt_text"):
                            self.fail("must provide alt_text", pointer)
                    else:
                        self.text(element, pointer, max_len=3000)
                else:
                    self.element(element, pointer, action_ids)
        elif kind == "input":
            self.text(block.get("label"), here + "/label", max_len=2000, plain_only=True)
            if "hint" in block:
                self.text(block["hint"], here + "/hint", max_len=2000, plain_only=True)
            if "element" not in block:
                self.fail("must provide an element", here)
            else:
                self.element(block["element"], here + "/element", action_ids)
        elif kind == "image":
            if not block.get("image_url") and not block.get("slack_file"):
                self.fail("must provide image_url or slack_file", here)
            alt = block.get("alt_text")
            if not isinstance(alt, str) or not alt or len(alt) > 2000:
                self.fail("must be between 1 and 2000 characters", here + "/alt_text")


def _check_message_blocks(blocks: Any) -> None:
    checker = _BlockChecker()
    checker.blocks(blocks, max_blocks=MAX_MESSAGE_BLOCKS)
    if checker.errors:
        raise SlackError(
            "invalid_blocks",
            errors=checker.errors,
            response_metadata={"messages": checker.errors},
        )
