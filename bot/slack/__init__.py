"""The Slack Web API: the one gateway (`SlackGateway`), its client and its pacing.

`from bot.slack import SlackGateway, SlackError, …` as before: the gateway lives in
`gateway`, the slack_sdk client and its retry handlers in `client`, the per-channel message
pacing in `pacing`.
"""

from bot.slack.client import Sleep, make_client
from bot.slack.gateway import INVITEE_ERRORS, InviteResult, SlackError, SlackGateway
from bot.slack.pacing import ChannelPacer

__all__ = [
    "INVITEE_ERRORS",
    "ChannelPacer",
    "InviteResult",
    "SlackError",
    "SlackGateway",
    "Sleep",
    "make_client",
]
