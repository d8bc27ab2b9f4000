"""Pure Block Kit builders by surface: data in, dicts out. User text is escaped here.

Callers use `from bot import blocks` and `blocks.<builder>`; each builder lives in the
module of its surface: `card` (the pinned card and channel messages), `forms` (modals),
`replies` (`/esc` answers), `pings` (pages, reminders, digests), `oncall`, `home`.
"""

from bot.blocks.card import (
    announcement,
    content_warning,
    could_not_add,
    decision_entry,
    escalation_card,
    invite_note,
    live_card,
    paging,
    signoff_message,
    staffed_summary,
    staffing_delayed,
)
from bot.blocks.common import GRAPHIC_WARNING, Action, Callback, button, context, section
from bot.blocks.coordination import channel_link, update_brief
from bot.blocks.forms import (
    decision_modal,
    escalate_modal,
    resolve_modal,
    severity_modal,
    stakeholders_modal,
)
from bot.blocks.home import home_view
from bot.blocks.oncall import (
    ONCALL_LINES,
    my_shifts_reply,
    oncall_gaps_reply,
    oncall_now_reply,
    oncall_schedule_reply,
    override_made_reply,
    override_removed_text,
    overrides_reply,
)
from bot.blocks.pings import (
    BRIEF_LIMIT,
    DIGEST_LIST_LIMIT,
    coverage_gaps,
    handoff_brief,
    handoff_notice,
    page_dm,
    page_message,
    shift_start_reminder,
    signoff_reminder,
    span,
    update_reminder,
    weekly_digest,
)
from bot.blocks.replies import (
    decisions_reply,
    listing_reply,
    stats_reply,
    status_reply,
    timeline_reply,
)

__all__ = [
    "BRIEF_LIMIT",
    "DIGEST_LIST_LIMIT",
    "GRAPHIC_WARNING",
    "ONCALL_LINES",
    "Action",
    "Callback",
    "announcement",
    "button",
    "channel_link",
    "content_warning",
    "context",
    "could_not_add",
    "coverage_gaps",
    "decision_entry",
    "decision_modal",
    "decisions_reply",
    "escalate_modal",
    "escalation_card",
    "handoff_brief",
    "handoff_notice",
    "home_view",
    "invite_note",
    "listing_reply",
    "live_card",
    "my_shifts_reply",
    "oncall_gaps_reply",
    "oncall_now_reply",
    "oncall_schedule_reply",
    "override_made_reply",
    "override_removed_text",
    "overrides_reply",
    "page_dm",
    "page_message",
    "paging",
    "resolve_modal",
    "section",
    "severity_modal",
    "shift_start_reminder",
    "signoff_message",
    "signoff_reminder",
    "span",
    "staffed_summary",
    "staffing_delayed",
    "stakeholders_modal",
    "stats_reply",
    "status_reply",
    "timeline_reply",
    "update_brief",
    "update_reminder",
    "weekly_digest",
]
