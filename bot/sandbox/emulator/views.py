"""Web API methods views.*: modal stacks (open, push, update) and App Home (publish), with
trigger exchange, view hashes and external ids.
"""

from __future__ import annotations

import copy
import json

from bot.sandbox.emulator.args import _json_arg, _text_arg
from bot.sandbox.emulator.blocks import _BlockChecker
from bot.sandbox.emulator.limits import _TRIGGER_RE, MAX_VIEW_BLOCKS, TRIGGER_LIFETIME
from bot.sandbox.emulator.records import SlackError, _Trigger
from bot.sandbox.emulator.state import WorkspaceState


class ViewsMethods(WorkspaceState):
    """The views.* Web API methods."""

    # ------------------------------------------------------------------ methods: views

    def _parse_view(self, args: dict, *, expected: tuple[str, ...]) -> dict:
        view = _json_arg(args.get("view"), "invalid_arguments")
        if not isinstance(view, dict):
            messages = ["[ERROR] missing required field: view"]
            raise SlackError("invalid_arguments", response_metadata={"messages": messages})
        checker = _BlockChecker()
        kind = view.get("type")
        if kind not in expected:
            checker.fail(f"must be one of {', '.join(expected)}", "/view/type")
        if kind == "modal":
            checker.text(view.get("title"), "/view/title", max_len=24, plain_only=True)
            for button in ("submit", "close"):
                if view.get(button) is not None:
                    checker.text(view[button], f"/view/{button}", max_len=24, plain_only=True)
            blocks = view.get("blocks")
            has_input = isinstance(blocks, list) and any(
                isinstance(b, dict) and b.get("type") == "input" for b in blocks
            )
            if has_input and not view.get("submit"):
                checker.fail("must provide a submit property when using input blocks", "/view")
        if "blocks" not in view:
            checker.fail("missing required field: blocks", "/view")
        else:
            checker.blocks(view["blocks"], max_blocks=MAX_VIEW_BLOCKS, pointer="/view/blocks")
        if len(str(view.get("private_metadata") or "")) > 3000:
            checker.fail("must be less than 3001 characters", "/view/private_metadata")
        if len(str(view.get("callback_id") or "")) > 255:
            checker.fail("must be less than 256 characters", "/view/callback_id")
        if len(str(view.get("external_id") or "")) > 255:
            checker.fail("must be less than 256 characters", "/view/external_id")
        if len(json.dumps(view)) > 250_000:
            raise SlackError("view_too_large")
        if checker.errors:
            raise SlackError("invalid_arguments", response_metadata={"messages": checker.errors})
        return view

    def _consume_trigger(self, trigger_id: str | None) -> _Trigger:
        if not trigger_id:
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": ["invalid `trigger_id`"]}
            )
        if not _TRIGGER_RE.fullmatch(trigger_id):
            raise SlackError("invalid_trigger_id")
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("expired_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self._clock() - trigger.issued > TRIGGER_LIFETIME:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    def _build_view(self, view_id: str, view: dict, *, root: str, previous: str | None) -> dict:
        kind = view.get("type", "modal")
        built = {
            "id": view_id,
            "team_id": self.team_id,
            "type": kind,
            "blocks": copy.deepcopy(view.get("blocks") or []),
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
            "state": {"values": {}},
            "hash": f"{int(self._clock())}.{self._rng.getrandbits(32):08x}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "external_id": view.get("external_id") or "",
            "root_view_id": root,
            "previous_view_id": previous,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if kind == "modal":
            built["title"] = copy.deepcopy(view.get("title"))
            built["close"] = copy.deepcopy(view.get("close"))
            built["submit"] = copy.deepcopy(view.get("submit"))
        return built

    def _claim_external_id(self, view: dict, view_id: str) -> None:
        external_id = view.get("external_id")
        if not external_id:
            return
        owner = self._external_ids.get(external_id)
        if owner is not None and owner != view_id:
            raise SlackError("duplicate_external_id")

    def _store_view(self, view_id: str, built: dict) -> None:
        previous = self.views.get(view_id)
        if previous and previous["external_id"]:
            self._external_ids.pop(previous["external_id"], None)
        if built["external_id"]:
            self._external_ids[built["external_id"]] = view_id
        self.views[view_id] = built

    def _views_open(self, args: dict) -> dict:
        view = self._parse_view(args, expected=("modal",))
        self._claim_external_id(view, "")
        trigger = self._consume_trigger(_text_arg(args, "trigger_id"))
        view_id = self._new_id("V")
        built = self._build_view(view_id, view, root=view_id, previous=None)
        self._store_view(view_id, built)
        self._view_owner[view_id] = trigger.user_id
        self._view_stacks[trigger.user_id] = [view_id]
        return {"view": copy.deepcopy(built)}

    def _views_push(self, args: dict) -> dict:
        view = self._parse_view(args, expected=("modal",))
        self._claim_external_id(view, "")
        trigger = self._consume_trigger(_text_arg(args, "trigger_id"))
        stack = self._view_stacks.setdefault(trigger.user_id, [])
        if len(stack) >= 3:
            raise SlackError("push_limit_reached")
        view_id = self._new_id("V")
        root = stack[0] if stack else view_id
        built = self._build_view(view_id, view, root=root, previous=stack[-1] if stack else None)
        self._store_view(view_id, built)
        self._view_owner[view_id] = trigger.user_id
        stack.append(view_id)
        return {"view": copy.deepcopy(built)}

    def _views_update(self, args: dict) -> dict:
        view_id = _text_arg(args, "view_id")
        external_id = _text_arg(args, "external_id")
        if not view_id and not external_id:
            messages = ["[ERROR] either view_id or external_id is required"]
            raise SlackError("invalid_arguments", response_metadata={"messages": messages})
        if not view_id:
            view_id = self._external_ids.get(external_id or "")
        current = self.views.get(view_id or "")
        if current is None:
            raise SlackError("not_found")
        view = self._parse_view(args, expected=(current["type"],))
        expected_hash = _text_arg(args, "hash")
        if expected_hash and expected_hash != current["hash"]:
            raise SlackError("hash_conflict")
        assert view_id is not None
        self._claim_external_id(view, view_id)
        built = self._build_view(
            view_id, view, root=current["root_view_id"], previous=current["previous_view_id"]
        )
        if not view.get("external_id"):
            built["external_id"] = current["external_id"]  # kept unless the update sets one
        self._store_view(view_id, built)
        if built["type"] == "home":
            owner = self._view_owner.get(view_id)
            if owner:
                self.home_views[owner] = built
        return {"view": copy.deepcopy(built)}

    def _views_publish(self, args: dict) -> dict:
        user_id = _text_arg(args, "user_id") or ""
        user = self._users.get(user_id)
        if user is None or user["deleted"]:
            raise SlackError(
                "invalid_arguments", response_metadata={"messages": ["invalid `user_id`"]}
            )
        view = self._parse_view(args, expected=("home",))
        current = self.home_views.get(user_id)
        expected_hash = _text_arg(args, "hash")
        if current is not None and expected_hash and expected_hash != current["hash"]:
            raise SlackError("hash_conflict")
        view_id = current["id"] if current else self._new_id("V")
        self._claim_external_id(view, view_id)
        built = self._build_view(view_id, view, root=view_id, previous=None)
        self._store_view(view_id, built)
        self._view_owner[view_id] = user_id
        self.home_views[user_id] = built
        return {"view": copy.deepcopy(built)}
