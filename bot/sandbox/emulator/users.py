"""Web API methods api.test, auth.test, users.* and usergroups.users.list."""

from __future__ import annotations

from bot.sandbox.emulator.args import _paginate, _text_arg, _truthy
from bot.sandbox.emulator.records import SlackError
from bot.sandbox.emulator.state import WorkspaceState


class UsersMethods(WorkspaceState):
    """The api, auth, users and usergroups Web API methods."""

    # ------------------------------------------------------------------ methods: auth

    def _api_test(self, args: dict) -> dict:
        out = {k: v for k, v in args.items() if k != "token"}
        return {"args": out} if out else {}

    def _auth_test(self, args: dict) -> dict:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    # ------------------------------------------------------------------ methods: users

    def _users_info(self, args: dict) -> dict:
        user = self._users.get(_text_arg(args, "user") or "")
        if user is None:
            raise SlackError("user_not_found")
        return {"user": self._user_object(user)}

    def _users_list(self, args: dict) -> dict:
        users = list(self._users.values())
        page, cursor = _paginate(users, lambda u: u["id"], args, "user", 1000, 1000)
        return {
            "members": [self._user_object(u) for u in page],
            "cache_ts": int(self._clock()),
            "response_metadata": {"next_cursor": cursor},
        }

    def _users_lookup_by_email(self, args: dict) -> dict:
        email = (_text_arg(args, "email") or "").strip().lower()
        for user in self._users.values():
            if email and (user["email"] or "").lower() == email and not user["deleted"]:
                return {"user": self._user_object(user)}
        raise SlackError("users_not_found")

    def _usergroups_users_list(self, args: dict) -> dict:
        group = self._usergroups.get(_text_arg(args, "usergroup") or "")
        if group is None:
            raise SlackError("no_such_subteam")
        if group["disabled"] and not _truthy(args.get("include_disabled")):
            raise SlackError("no_such_subteam")
        return {"users": list(group["users"])}
