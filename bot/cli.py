"""The `escbot` command line."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from pydantic import ValidationError

from bot import logs
from bot.config import ConfigError, TeamConfig, load_config
from bot.settings import Settings, load_settings
from storage.problems import DatabaseProblem

if TYPE_CHECKING:
    from storage.db import Database

log = logging.getLogger("escbot")


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]).upper() or "settings"
            click.echo(f"error: {where}: {err['msg'].removeprefix('Value error, ')}", err=True)
        sys.exit(2)
    ctx = click.get_current_context(silent=True)
    verbose = bool(ctx and ctx.find_root().params.get("verbose"))
    logs.configure(verbose=verbose, fmt=settings.log_format)
    return settings


def _config(path: Path) -> TeamConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def _fail(exc: DatabaseProblem) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


def _open(settings: Settings) -> Database:
    from storage.db import Database

    try:
        return Database(settings.database_url)
    except DatabaseProblem as exc:
        _fail(exc)


def _database(settings: Settings, *, auto_upgrade: bool | None = None) -> Database:
    db = _open(settings)
    try:
        db.prepare(auto_upgrade=auto_upgrade)
    except DatabaseProblem as exc:
        _fail(exc)
    return db


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
def main(verbose: bool) -> None:
    """Escalation bot: raise escalations, page on-call, keep the decision log."""
    logs.configure(verbose=verbose)  # the format follows LOG_FORMAT once settings are read


@main.command()
@click.option(
    "--no-scheduler",
    is_flag=True,
    help="Do not run the scheduler here (when `escbot scheduler` runs elsewhere).",
)
def run(no_scheduler: bool) -> None:
    """Serve Slack (HTTP, or Socket Mode with SLACK_APP_TOKEN) and run the scheduler.

    With no SLACK_BOT_TOKEN, start the local sandbox instead.
    """
    settings = _settings()
    if settings.sandbox:
        click.echo("No SLACK_BOT_TOKEN set: starting the local sandbox.", err=True)
        from bot.sandbox.shell import run_sandbox

        try:
            run_sandbox(settings)
        except DatabaseProblem as exc:
            _fail(exc)
        return
    if settings.http_problem:
        click.echo(f"error: {settings.http_problem}", err=True)
        sys.exit(2)
    config = _config(settings.escalation_config)
    if not settings.slack_app_token:  # HTTP: liveness at once, the bot wired meanwhile
        from bot.boot import serve

        def wire(booting: Any, started: Any) -> None:
            from bot.runtime import wire_http

            wire_http(settings, config, booting, started, scheduler=not no_scheduler)

        error = serve(settings.port, wire).error
        if isinstance(error, DatabaseProblem):
            _fail(error)
        if error is not None:
            raise error
        return
    from bot.runtime import run_production
    from bot.socket_mode import AppTokenRefused

    try:
        run_production(settings, config, _database(settings), scheduler=not no_scheduler)
    except AppTokenRefused as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.command()
def scheduler() -> None:
    """Run only the scheduler: shift reminders, handoffs, pages, reminders, gaps, digests.

    Safe alongside `escbot run` and other schedulers: every ping is claimed once.
    """
    settings = _settings()
    if settings.sandbox:
        click.echo("error: SLACK_BOT_TOKEN is not set (the sandbox runs its own).", err=True)
        sys.exit(2)
    from bot.runtime import run_scheduler

    run_scheduler(settings, _config(settings.escalation_config), _database(settings))


CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Team config (default: ESCALATION_CONFIG, else the shipped example).",
)


@main.command()
@CONFIG_OPTION
@click.option(
    "--web-port",
    type=click.IntRange(0, 65535),
    default=3030,
    show_default=True,
    help="Serve the web workspace on this loopback port (0: any free one).",
)
@click.option("--no-shell", is_flag=True, help="Serve the web workspace alone, no terminal shell.")
@click.option(
    "--socket-mode",
    is_flag=True,
    help="Wire the bot to the workspace over Socket Mode (an app token) instead of HTTP.",
)
def sandbox(config_path: Path | None, web_port: int, no_shell: bool, socket_mode: bool) -> None:
    """Start a local Slack-compatible workspace with the bot wired to it, a web page and a shell.

    The web workspace (http://127.0.0.1:3030/ by default) shows channels, cards, forms and
    App Home as Slack would; the shell types as any user in any channel.
    """
    from bot.sandbox.shell import run_sandbox

    try:
        run_sandbox(
            _settings(), config_path, web_port=web_port, shell=not no_shell, socket_mode=socket_mode
        )
    except DatabaseProblem as exc:
        _fail(exc)


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@CONFIG_OPTION
@click.option(
    "--review",
    "review_ref",
    default=None,
    metavar="ESC-n",
    help="Then print that escalation's review document (Markdown).",
)
def drill(path: Path, config_path: Path | None, review_ref: str | None) -> None:
    """Run the scripted scenario in PATH against a fresh sandbox, on simulated time.

    Prints who was paged when, time to acknowledge, SLA met or not, and the steps that
    failed; exits 1 when one did. The format is in the README (examples: drills/).
    """
    from bot.sandbox.drill import DrillError, load_drill, run_drill
    from bot.sandbox.shell import find_config

    settings = _settings()
    try:
        scenario = load_drill(path)
        found = find_config(settings, config_path)
    except (DrillError, FileNotFoundError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    logging.getLogger().setLevel(logging.WARNING)  # the report is the output
    number = _ref(review_ref) if review_ref is not None else None
    report = run_drill(scenario, settings, _config(found), review=number)
    click.echo(report.render(), nl=False)
    if report.review:
        click.echo("")
        click.echo(report.review, nl=False)
    if report.failed:
        sys.exit(1)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the database schema to the newest migration."""
    database = _open(_settings())
    try:
        database.upgrade()
        current, _ = database.schema_revision()
    except DatabaseProblem as exc:
        _fail(exc)
    click.echo(f"database at revision {current}")


@main.group()
def config() -> None:
    """Team config."""


@config.command("check")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def config_check(path: Path | None) -> None:
    """Validate the team config (PATH, else ESCALATION_CONFIG) and print ok or the errors."""
    from bot.policy import Policy

    target = path or _settings().escalation_config
    loaded = _config(target)
    for line in Policy(loaded).unactionable():
        click.echo(f"warning: {line}", err=True)
    click.echo("ok")


@main.command()
@click.option(
    "--since",
    required=True,
    help="First day (YYYY-MM-DD, UTC) or instant (ISO-8601; UTC unless it has an offset).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
def export(since: str, fmt: str) -> None:
    """Print one row per escalation created since DATE, as CSV or JSON."""
    from bot.clock import system_clock
    from bot.usecases.reports import export_rows, parse_since, to_csv, to_json

    try:
        start = parse_since(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    database = _database(_settings())
    with database.uow() as uow:
        rows = export_rows(uow, start, system_clock())
    click.echo(to_csv(rows) if fmt == "csv" else to_json(rows), nl=False)


@main.command()
@click.argument("ref")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json"]),
    default="md",
    show_default=True,
    help="Output format.",
)
def review(ref: str, fmt: str) -> None:
    """Print the review document of ESC-n: times, SLA, checklist, timeline, decisions."""
    import json

    from bot.blocks import review_data, review_markdown
    from bot.clock import system_clock
    from bot.usecases.review import operator_review

    number = _ref(ref)
    settings = _settings()
    config = _config(settings.escalation_config)
    try:
        found = operator_review(_database(settings), config, number, system_clock())
    except LookupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if fmt == "json":
        click.echo(json.dumps(review_data(found, config), indent=2, ensure_ascii=False))
    else:
        click.echo(review_markdown(found, config), nl=False)


def _ref(ref: str) -> int:
    from bot.parsing.esc import parse_ref

    number = parse_ref(ref)
    if number is None or not 0 < number < 2**31:
        raise click.BadParameter(f"{ref!r} is not an escalation like ESC-12", param_hint="REF")
    return number


@main.group()
def audit() -> None:
    """The tamper-evident decision log."""


@audit.command("export")
@click.argument("ref")
def audit_export(ref: str) -> None:
    """Print ESC-n's audit bundle (decision chain, sign-offs, timeline) as one JSON document."""
    import json

    from bot.usecases.audit import export_bundle

    number = _ref(ref)
    try:
        bundle = export_bundle(_database(_settings()), number)
    except LookupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(json.dumps(bundle, indent=2, ensure_ascii=False))
    click.echo(f"seal {bundle['seal']}", err=True)


@audit.command("verify")
@click.option(
    "--bundle",
    "bundle_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Check this exported bundle offline, with no database.",
)
@click.option("--seal", default=None, help="With --bundle: the seal printed at export.")
def audit_verify(bundle_path: Path | None, seal: str | None) -> None:
    """Walk every decision chain (or one bundle); report the first broken entry (exit 1)."""
    if bundle_path is not None:
        _verify_bundle(bundle_path, seal)
        return
    if seal is not None:
        raise click.UsageError("--seal goes with --bundle")
    from bot.usecases.decisions import verify_all

    result = verify_all(_database(_settings()))
    if result.broken is not None:
        click.echo(f"broken: {result.broken.render()}")
        click.echo(f"({result.entries} entries in {result.chains} chains verified before it)")
        sys.exit(1)
    click.echo(f"ok: {result.entries} entries in {result.chains} chains verified")


def _verify_bundle(path: Path, seal: str | None) -> None:
    import json

    from bot.usecases.audit import verify_bundle

    try:
        check = verify_bundle(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        click.echo(f"error: cannot read {path}: {exc.strerror}", err=True)
        sys.exit(2)
    except (ValueError, UnicodeDecodeError) as exc:
        click.echo(f"error: {path}: {exc}", err=True)
        sys.exit(2)
    if check.broken is None and seal is not None and seal != check.seal:
        click.echo(f"broken: {check.ref} seal: not the seal given (the bundle was re-sealed)")
        sys.exit(1)
    if check.broken is not None:
        click.echo(f"broken: {check.broken}")
        sys.exit(1)
    decisions, signoffs, events = check.counts
    click.echo(
        f"ok: {check.ref}: {decisions} decisions, {signoffs} sign-offs, "
        f"{events} timeline events verified (seal {check.seal[:16]})"
    )


@main.command()
@click.option("--url", default=None, help="Public base URL the bot is served at.")
@click.option(
    "--socket-mode",
    is_flag=True,
    help="The Socket Mode variant: no request URLs (Slack delivers over the app's socket).",
)
def manifest(url: str | None, socket_mode: bool) -> None:
    """Print the Slack app manifest for a bot served at URL (or over Socket Mode)."""
    from bot.manifest import public_url, render_manifest, render_socket_mode_manifest

    if socket_mode:
        click.echo(render_socket_mode_manifest(), nl=False)
        return
    if url is None:
        raise click.UsageError("give --url URL (or --socket-mode)")
    try:
        url = public_url(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--url") from None
    click.echo(render_manifest(url), nl=False)


@main.command("oncall")
@click.option("--rotation", "rotation_id", default=None, metavar="R", help="Only this rotation.")
@click.option("--at", "at", default=None, metavar="TIME", help="Who covers this instant.")
@click.option("--from", "start", default=None, metavar="TIME", help="Schedule from TIME…")
@click.option("--to", "end", default=None, metavar="TIME", help="…to TIME.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list.")
def oncall_command(
    rotation_id: str | None, at: str | None, start: str | None, end: str | None, as_json: bool
) -> None:
    """Print who is on call at TIME (default now), or the final schedule over a window.

    TIME is ISO-8601; without an offset it is in the rotation's time zone. Overrides from
    the database are applied; gaps show as rows without a user.
    """
    import json
    from datetime import datetime

    from bot.clock import system_clock
    from bot.parsing.oncall import parse_instant
    from bot.rotations import OnCall
    from bot.usecases.oncall import rows_table, schedule_rows

    if at is not None and (start is not None or end is not None):
        raise click.UsageError("give either --at or --from/--to, not both")
    if (start is None) != (end is None):
        raise click.UsageError("--from and --to go together")
    settings = _settings()
    config = _config(settings.escalation_config)
    if rotation_id is not None and rotation_id not in config.rotations:
        known = ", ".join(config.rotations) or "none configured"
        raise click.BadParameter(
            f"unknown rotation {rotation_id!r} (rotations: {known})", param_hint="--rotation"
        )
    ids = [rotation_id] if rotation_id else list(config.rotations)
    zones = {rid: config.rotations[rid].timezone for rid in ids}
    now = system_clock()

    def instants(text: str, hint: str) -> dict[str, datetime]:
        try:
            return {rid: parse_instant(text, zones[rid], now) for rid in ids}
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=hint) from None

    window = None
    moments = None
    if start is not None and end is not None:
        begin, finish = instants(start, "--from"), instants(end, "--to")
        if any(finish[rid] <= begin[rid] for rid in ids):
            raise click.BadParameter("--to must be after --from", param_hint="--to")
        window = {rid: (begin[rid], finish[rid]) for rid in ids}
    else:
        moments = instants(at or "now", "--at")
    database = _database(settings)
    with database.uow() as uow:
        rows = schedule_rows(OnCall(config), uow.repos.overrides, ids, at=moments, window=window)
    click.echo(json.dumps(rows, indent=2) if as_json else rows_table(rows, zones))
