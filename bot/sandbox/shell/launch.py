"""Starting the sandbox: the emulator, the database, the bot, Socket Mode and the web
workspace wired together (:func:`start_sandbox`), and the interactive loop
(:func:`run_sandbox`).
"""

from __future__ import annotations

import logging
import secrets
import signal
import sys
import threading
from pathlib import Path
from typing import TextIO

from bot.clock import Clock, system_clock
from bot.config import ConfigError, TeamConfig, load_config
from bot.runtime import start_local
from bot.sandbox.driver import Driver
from bot.sandbox.emulator import Emulator
from bot.sandbox.keeping import (
    SHARED_WORKSPACE,
    Keeper,
    WorkspaceMissing,
    database_file,
    reconcile,
    require_workspace,
    workspace_file,
)
from bot.sandbox.seed import seed
from bot.sandbox.shell.config import find_config
from bot.sandbox.shell.session import Sandbox
from bot.sandbox.socket_mode import SocketMode
from bot.sandbox.web import Workspace, create_web_app
from bot.settings import Settings
from bot.web import Server
from storage.db import Database, safe_url, unreachable


def start_sandbox(
    settings: Settings,
    config: TeamConfig,
    *,
    out: TextIO | None = None,
    port: int = 0,
    web_port: int | None = None,
    clock: Clock = system_clock,
    scheduler: bool = True,
    rate_limits: bool = True,
    socket_mode: bool = False,
) -> Sandbox:
    """Start the emulator seeded from `config` and the bot wired to it (and the web page);
    over Socket Mode instead of HTTP with `socket_mode`.

    The workspace is kept beside a SQLite database (else in ./sandbox.workspace.json) and
    restored on the next start, so the two always go together.
    """
    out = out or sys.stdout
    database = database_file(settings.database_url)
    if database is not None and not database.parent.is_dir():  # before anything is written
        raise unreachable(
            settings.database_url, OSError(f"unable to open: no directory {database.parent}")
        )
    emulator = Emulator(rate_limits=rate_limits)
    emulator.start()
    handles = seed(emulator, config)
    if database is not None:
        moved = reconcile(database)
        if moved:
            print(moved, file=out, flush=True)
        kept = workspace_file(database)
    else:  # a database server: the workspace file is here, and must match it
        kept = SHARED_WORKSPACE
        probe = Database(settings.database_url)
        try:
            probe.prepare()
            with probe.uow() as uow:
                require_workspace(kept, len(uow.repos.escalations.find()), settings.database_url)
        except WorkspaceMissing:
            emulator.stop()
            raise
        finally:
            probe.dispose()
    keeper = Keeper(emulator, kept)
    keeper.load()
    keeper.start()
    socket = SocketMode(emulator).start() if socket_mode else None
    secret = secrets.token_hex(16)
    local = settings.model_copy(
        update={
            "slack_bot_token": emulator.bot_token,
            "slack_signing_secret": secret,
            "slack_api_url": emulator.url,
            "slack_app_token": socket.app_token if socket else None,
        }
    )
    db = Database(local.database_url)
    db.prepare()
    bot = start_local(local, config, db, port=port, clock=clock, scheduler=scheduler)
    driver = Driver(emulator, bot.events_url, secret)
    if socket is not None:
        socket.wait_connected()
        driver.transport = socket.transport
    box = Sandbox(config, bot, emulator, driver, handles, out)
    box.keeper = keeper
    box.socket = socket
    if web_port is not None:
        box.workspace = Workspace(emulator, driver, handles, box.user, box.channel)
        try:
            box.web = Server(create_web_app(box.workspace), port=web_port).start()
        except OSError:
            box.stop()  # the port is taken: nothing keeps running behind the error
            raise
    return box


def run_sandbox(
    settings: Settings,
    config_path: Path | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    *,
    web_port: int | None = None,
    shell: bool = True,
    socket_mode: bool = False,
) -> None:
    """Run the sandbox (and its web page) with a shell on stdin until `quit` or end of input.

    Without the shell it serves until interrupted (Ctrl-C or SIGTERM).
    """
    stdin = stdin or sys.stdin
    out = out or sys.stdout
    try:
        path = find_config(settings, config_path)
        config = load_config(path)
    except (ConfigError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        box = start_sandbox(settings, config, out=out, web_port=web_port, socket_mode=socket_mode)
    except WorkspaceMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as exc:
        print(f"error: cannot serve the web workspace on port {web_port}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    web = f"Web workspace: {box.web_url}\n" if box.web_url else ""
    where = f"bot at {box.bot.events_url}"
    if box.socket is not None:
        where = f"bot over Socket Mode at {box.socket.url}"
    box.say(
        f"{web}Sandbox workspace at {box.emulator.url} — {where}\n"
        f"Team config: {path}; database: {safe_url(settings.database_url)}"
    )
    try:
        if not shell:
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            box.say("Serving the web workspace only; Ctrl-C stops it.")
            stop.wait()
            return
        box.say(f"You are @{box.names.get(box.user)} in #escalations-team. Type `help`.")
        if logging.getLogger().getEffectiveLevel() == logging.INFO:
            logging.getLogger().setLevel(logging.WARNING)  # log lines would cut into the prompt
        box.follow()
        interactive = stdin.isatty()
        while True:
            if interactive:
                prompt = f"@{box.names.get(box.user, box.user)} {box._channel_label(box.channel)}> "
                try:
                    line = input(prompt)
                except EOFError:
                    break
            else:
                line = stdin.readline()
                if not line:
                    break
                box.say(f"> {line.rstrip()}")
            if not box.execute(line):
                break
    except KeyboardInterrupt:
        pass
    finally:
        box.stop()
