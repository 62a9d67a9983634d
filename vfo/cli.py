"""The `vfo` command line."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from shared.auth import EVERY_PROJECT, Role, local_key
from shared.bus import Bus
from shared.config import LANGUAGES, MUSIC_BEDS
from shared.errors import InvalidInput, VideoFactoryError
from shared.natsserver import free_port
from shared.runtime import configure_logging
from shared.settings import Settings
from vfo.client import Choices, MakeFailed, make_video
from vfo.stack import SERVICES, Stack, data_dir_nats, database_label, running_stack, service_entry

app = typer.Typer(no_args_is_help=True, help="Video Factory: a title and a brief in, a narrated video out.")
board_app = typer.Typer(no_args_is_help=True, help="The board's read model.")
app.add_typer(board_app, name="board")
registry_app = typer.Typer(no_args_is_help=True, help="The configuration registry.")
app.add_typer(registry_app, name="registry")
keys_app = typer.Typer(
    no_args_is_help=True,
    help="API keys, straight in NATS (for operators of the host; the API has /api/v1/keys).",
)
app.add_typer(keys_app, name="keys")
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Where the embedded NATS store, SQLite and caches live.")
]
Port = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port of the board's HTTP API.")]


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as err:
        raise InvalidInput("configuration", str(err)) from err


def _auth(data_dir: Path) -> dict[str, str]:
    """The Authorization header the commands send: VFO_API_KEY, else <data-dir>/admin-key."""
    key = local_key(_settings(data_dir=data_dir))
    return {"Authorization": f"Bearer {key}"} if key else {}


def _run(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a command's coroutine; our errors become one red line and a non-zero exit, not a trace."""
    try:
        return asyncio.run(coro)
    except (VideoFactoryError, MakeFailed) as err:
        err_console.print(f"[red]error:[/red] {err}")
        invalid = isinstance(err, InvalidInput) or (isinstance(err, MakeFailed) and err.invalid_input)
        raise typer.Exit(2 if invalid else 1) from None


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


@app.command()
def up(
    port: Port = 8000,
    data_dir: DataDir = Path("var"),
    host: str = "127.0.0.1",
    backup_every: Annotated[
        str | None,
        typer.Option(help="Make a backup this often (90m, 6h, 1d) into VFO_BACKUP_DIR (<data-dir>/backups)."),
    ] = None,
) -> None:
    """Start everything here: NATS (embedded unless NATS_URL is set), the database and every service."""
    settings = _settings(port=port, data_dir=data_dir, host=host, backup_every=backup_every)
    configure_logging(settings)

    async def main() -> None:
        async with Stack(settings) as stack:
            _stop_on_signals(stack.stop)
            console.print(
                f"[green]Video Factory is up.[/green] Board API: {stack.board_url}  (Ctrl-C stops it)"
            )
            console.print(f"NATS: {stack.settings.nats_url}   data: {settings.data_dir.resolve()}")
            key = local_key(settings)
            if key:
                console.print(f"Log in to the board: {stack.board_url}/login#key={key}")
                console.print(
                    f"(the admin key is in {(settings.data_dir / 'admin-key').resolve()}, mode 600)"
                )
            if settings.backup_interval_s:
                console.print(
                    f"A backup every {settings.backup_every} into {settings.resolved_backup_dir().resolve()}"
                    f" (the newest {settings.backup_keep} are kept)"
                )
            await stack.wait()
        console.print("stopped.")

    _run(main())


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    scaled = size / 1024
    for unit in ("KB", "MB"):
        if scaled < 1024:
            return f"{scaled:.1f} {unit}"
        scaled /= 1024
    return f"{scaled:.1f} GB"


def _summary(summary: dict[str, int]) -> str:
    from vfo.backup import in_words

    return in_words(summary)


@app.command()
def backup(
    out: Annotated[
        Path | None,
        typer.Option(help="The folder for backups (default: VFO_BACKUP_DIR, else <data-dir>/backups)."),
    ] = None,
    data_dir: DataDir = Path("var"),
) -> None:
    """Copy everything that cannot be rebuilt (events, work, configuration, API keys, artifacts, the
    registry's and webhooks' tables) into a new folder with SHA-256 checksums; works while the stack runs.
    Keeps the newest VFO_BACKUP_KEEP (7) backups in that folder."""
    from vfo.backup import make_backup

    settings = _settings(data_dir=data_dir)

    async def main() -> Any:
        running = running_stack(data_dir)
        if running and running.get("database", database_label(settings)) != database_label(settings):
            raise InvalidInput(
                "DATABASE_URL",
                f"the stack running from {data_dir} uses {running['database']}; set DATABASE_URL to it "
                "so that its tables are backed up",
            )
        if settings.nats_url or running:
            nats_url = settings.nats_url or running["nats_url"]  # type: ignore[index]
            return await make_backup(settings.model_copy(update={"nats_url": nats_url}), out)
        if not (data_dir / "nats").is_dir():
            raise InvalidInput(
                "--data-dir", f"{data_dir} holds no Video Factory data; name the one `vfo up` uses"
            )
        async with data_dir_nats(settings) as offline:
            return await make_backup(offline, out)

    made = _run(main())
    console.print(
        f"[green]Backed up[/green] to {made.path} ({_size(made.size_bytes)} in {made.seconds:.1f} s): "
        f"{_summary(made.summary)}.",
        soft_wrap=True,
    )
    console.print(
        "It holds the instance's secret key and admin key: keep it as private as the data directory.",
        soft_wrap=True,
    )


@app.command()
def restore(
    backup: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="A backup folder (vfo-backup-...).")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Replace data already there without asking.")] = False,
    data_dir: DataDir = Path("var"),
) -> None:
    """Restore a backup into --data-dir (with the stack stopped): checks every checksum and file
    first, asks before replacing data that is there, and rebuilds the board from the events. If it
    fails half-way, what was there is put back."""
    from vfo import backupcheck
    from vfo.backup import verify
    from vfo.restore import restore_backup

    settings = _settings(data_dir=data_dir)

    def confirm(existing: list[str]) -> bool:
        if yes:
            return True
        err_console.print(f"{data_dir} already holds data: {'; '.join(existing)}.")
        if not sys.stdin.isatty():
            raise InvalidInput("--yes", "the restore would replace that data; pass --yes to go ahead")
        return typer.confirm("Replace it with the backup?", default=False)

    async def main() -> Any:
        manifest = await asyncio.to_thread(verify, backup)  # before anything is touched
        await asyncio.to_thread(backupcheck.check, backup, manifest)
        async with data_dir_nats(settings) as offline:
            return await restore_backup(offline, backup, manifest, confirm)

    restored = _run(main())
    if restored is None:
        console.print("Nothing was changed.")
        raise typer.Exit(1)
    console.print(f"[green]Restored[/green] {backup.name}: {_summary(restored.summary)}.", soft_wrap=True)
    for note in restored.notes:
        err_console.print(f"[yellow]note:[/yellow] {note}")
    console.print(
        f"The board was rebuilt from the events. Start the stack with `vfo up --data-dir {data_dir}`.",
        soft_wrap=True,
    )


@app.command()
def make(
    title: Annotated[str, typer.Argument(help="The video's title.")],
    brief: Annotated[str | None, typer.Option(help="What the video should say.")] = None,
    brief_file: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Read the brief from a file.")
    ] = None,
    lang: Annotated[str, typer.Option(help="en-US, pt-BR, es-ES or es-MX.")] = "en-US",
    out: Annotated[Path, typer.Option(help="Folder for the finished files.")] = Path("output"),
    image: Annotated[
        list[Path] | None, typer.Option(exists=True, dir_okay=False, help="A background image (repeatable).")
    ] = None,
    recipe: Annotated[
        str | None, typer.Option(help="The recipe (narrated-story, documentary, vertical-short, ...).")
    ] = None,
    music: Annotated[
        str | None,
        typer.Option(help=f"{', '.join(MUSIC_BEDS)}, none, or an audio file; default: the recipe's."),
    ] = None,
    shorts: Annotated[
        int | None, typer.Option(min=0, max=5, help="Vertical shorts to cut from the video (0-5).")
    ] = None,
    voice: Annotated[
        str | None, typer.Option(help="A voice preset (en-US-neural, ...); default: the language's.")
    ] = None,
    data_dir: DataDir = Path("var"),
) -> None:
    """Make one video: uses the running stack, or starts one for the duration."""
    if brief_file:
        brief = brief_file.read_text(encoding="utf-8")
    if not brief:
        err_console.print(
            "[red]error:[/red] --brief (or --brief-file) is required: say what the video is about"
        )
        raise typer.Exit(2)
    if lang not in LANGUAGES:  # checked here too, so a typo does not start a whole stack first
        err_console.print(
            f"[red]error:[/red] language: unknown language {lang!r}; use one of {', '.join(LANGUAGES)}"
        )
        raise typer.Exit(2)
    choices = Choices(
        language=lang,
        images=tuple(image or ()),
        recipe=recipe,
        voice=voice,
        shorts=shorts,
        music=_music_choice(music),
    )

    async def main() -> Path:
        running = running_stack(data_dir)
        if running:
            return await make_video(
                running["board_url"], _auth(data_dir), title, brief, choices, out, console
            )
        settings = _settings(data_dir=data_dir, port=free_port())
        configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
        async with Stack(settings) as stack:
            return await make_video(stack.board_url, _auth(data_dir), title, brief, choices, out, console)

    path = _run(main())
    console.print(f"[green]Video ready:[/green] {path}")


def _music_choice(music: str | None) -> str | Path | None:
    """--music: a built-in bed, none, or an audio file (checked here, before a stack starts)."""
    if music is None or music in (*MUSIC_BEDS, "none"):
        return music
    if Path(music).is_file():
        return Path(music)
    err_console.print(
        f"[red]error:[/red] music: {music!r} is neither built-in music nor a file;"
        f" use {', '.join(MUSIC_BEDS)}, none, or the path of an audio file"
    )
    raise typer.Exit(2)


@app.command()
def batch(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="JSONL or CSV: title, brief, language...")
    ],
    start: Annotated[
        str | None, typer.Option(help="Run the jobs right away until this column.")
    ] = "CONCLUIDO",
    data_dir: DataDir = Path("var"),
) -> None:
    """Create many jobs at once on the running stack (start one with `vfo up`)."""
    running = running_stack(data_dir)
    if not running:
        err_console.print("[red]error:[/red] no stack runs from --data-dir; start one with `vfo up`")
        raise typer.Exit(1)
    params = {"start": start} if start else {}
    with file.open("rb") as handle:
        response = httpx.post(
            f"{running['board_url']}/api/v1/jobs/batch",
            files={"file": (file.name, handle)},
            params=params,
            headers=_auth(data_dir),
            timeout=120,
        )
    body = response.json()
    if response.status_code != 201:
        _print_refusal(body)
        raise typer.Exit(2 if response.status_code == 422 else 1)
    console.print(f"[green]{body['count']} jobs created.[/green] Board: {running['board_url']}")


@app.command("run")
def run_service(service: Annotated[str, typer.Argument(help=f"One of: {', '.join(SERVICES)}.")]) -> None:
    """Run one service as its own process (how hosts scale in production). Needs NATS_URL."""
    settings = _settings()
    configure_logging(settings)

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        await service_entry(service)(settings, stop)

    _run(main())


@app.command()
def doctor(data_dir: DataDir = Path("var")) -> None:
    """Which providers, voices and encoders work on this machine, each with the fix when not."""
    from vfo.doctor import diagnose

    settings = _settings()
    nats_url = settings.nats_url or (running_stack(data_dir) or {}).get("nats_url")
    findings, source = _run(diagnose(nats_url, settings.ffmpeg_path))
    table = Table("", "what", "detail")
    for finding in findings:
        table.add_row(
            "[green]ok[/green]" if finding.ok else "[yellow]no[/yellow]", finding.component, finding.detail
        )
    console.print(table)
    console.print(
        f"providers from {source}. Without any key, the offline script writer and voice make videos."
    )
    essential = [f for f in findings if f.component in ("FFmpeg", "offline voice (eSpeak NG)")]
    if not all(f.ok for f in essential):
        raise typer.Exit(1)


@app.command()
def status(data_dir: DataDir = Path("var")) -> None:
    """Show the stack, its streams, consumers and pending work."""
    from vfo.status import collect

    running = running_stack(data_dir)
    nats_url = _settings().nats_url or (running or {}).get("nats_url")
    if not nats_url:
        err_console.print(
            "[red]error:[/red] no stack runs from --data-dir and NATS_URL is not set; start one: `vfo up`"
        )
        raise typer.Exit(1)
    streams, consumers = _run(collect(nats_url))
    console.print(
        f"Board: {running['board_url'] if running else '(not started from this data dir)'}   NATS: {nats_url}"
    )
    table = Table("stream", "messages", "bytes", "first seq", "last seq")
    for row in streams:
        table.add_row(*map(str, row))
    console.print(table)
    table = Table("consumer", "stream", "pending", "ack pending", "redelivered")
    for row in consumers:
        table.add_row(*map(str, row))
    console.print(table)


def _print_refusal(body: dict[str, Any]) -> None:
    problems = body.get("errors") or []
    if not problems:
        err_console.print(f"[red]error:[/red] {body.get('message')}")
        return
    err_console.print(f"[red]error:[/red] refused, nothing changed ({len(problems)} problem(s)):")
    for problem in problems:
        err_console.print(f"  {problem['field']}: {problem['message']}")


def _board_url(data_dir: Path) -> str:
    running = running_stack(data_dir)
    if not running:
        err_console.print("[red]error:[/red] no stack runs from --data-dir; start one with `vfo up`")
        raise typer.Exit(1)
    return running["board_url"]


@registry_app.command("export")
def registry_export(
    out: Annotated[Path | None, typer.Option(help="Write to this file (default: standard output).")] = None,
    format: Annotated[str, typer.Option(help="yaml or json")] = "yaml",
    data_dir: DataDir = Path("var"),
) -> None:
    """Export the whole configuration (every current item) as YAML or JSON."""
    response = httpx.get(
        f"{_board_url(data_dir)}/api/v1/registry/export",
        params={"format": format},
        headers=_auth(data_dir),
        timeout=60,
    )
    if response.status_code != 200:
        _print_refusal(response.json())
        raise typer.Exit(1)
    if out:
        out.write_text(response.text, encoding="utf-8")
        console.print(f"exported to {out}")
    else:
        print(response.text, end="")


@registry_app.command("import")
def registry_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A YAML or JSON export.")],
    data_dir: DataDir = Path("var"),
) -> None:
    """Import a configuration: every item is checked first; one problem and nothing changes."""
    response = httpx.post(
        f"{_board_url(data_dir)}/api/v1/registry/import",
        content=file.read_text(encoding="utf-8"),
        headers={"content-type": "text/plain"} | _auth(data_dir),
        timeout=120,
    )
    body = response.json()
    if response.status_code != 200:
        _print_refusal(body)
        raise typer.Exit(2 if response.status_code == 422 else 1)
    console.print(
        f"imported: {body['created']} created, {body['updated']} updated, {body['unchanged']} unchanged"
    )


@board_app.command("rebuild")
def board_rebuild(data_dir: DataDir = Path("var")) -> None:
    """Drop the board tables and replay every event from sequence 1."""
    from vfo.status import rebuild_offline

    running = running_stack(data_dir)
    if running:
        response = httpx.post(
            f"{running['board_url']}/api/v1/admin/projection/rebuild", headers=_auth(data_dir), timeout=600
        )
        if response.status_code != 200:
            _print_refusal(response.json())
            raise typer.Exit(1)
        console.print(f"rebuilt: position {response.json()['position']}")
        return
    settings = _settings(data_dir=data_dir)
    if not settings.nats_url:
        err_console.print("[red]error:[/red] start the stack (`vfo up`) or set NATS_URL to rebuild offline")
        raise typer.Exit(1)
    position = _run(rebuild_offline(settings))
    console.print(f"rebuilt: position {position}")


def _nats_url(data_dir: Path) -> str:
    nats_url = _settings().nats_url or (running_stack(data_dir) or {}).get("nats_url")
    if not nats_url:
        err_console.print("[red]error:[/red] no stack runs from --data-dir and NATS_URL is not set")
        raise typer.Exit(1)
    return nats_url


async def _keyring(nats_url: str, work: Any) -> Any:
    from shared.auth import KeyRing

    bus = await Bus.connect(nats_url, "vfo-keys")
    try:
        await bus.ensure()
        return await work(KeyRing(bus))
    finally:
        await bus.close()


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what will use the key.")],
    role: Annotated[Role, typer.Option(help="viewer, operator or admin.")] = Role.OPERATOR,
    project: Annotated[
        str, typer.Option(help=f"The project, or {EVERY_PROJECT} for every project.")
    ] = "default",
    data_dir: DataDir = Path("var"),
) -> None:
    """Make a key (printed once: store it now). Also how to get back in when the admin key is lost."""
    token, stored = _run(
        _keyring(_nats_url(data_dir), lambda ring: ring.create(name, project, role, "vfo keys"))
    )
    console.print(f"key {stored.id} ({stored.role} of {stored.project}); it is shown only now:")
    print(token)


@keys_app.command("list")
def keys_list(data_dir: DataDir = Path("var")) -> None:
    """Every key: id, name, project, role, and whether it was revoked."""
    keys = _run(_keyring(_nats_url(data_dir), lambda ring: ring.list(None)))
    table = Table("id", "name", "project", "role", "created", "revoked")
    for key in keys:
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else ""
        table.add_row(
            key.id, key.name, key.project, key.role, key.created_at.isoformat(timespec="seconds"), revoked
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `vfo keys list`).")],
    data_dir: DataDir = Path("var"),
) -> None:
    """Revoke a key: every service refuses it within moments."""
    _run(_keyring(_nats_url(data_dir), lambda ring: ring.revoke(key_id, None)))
    console.print(f"revoked {key_id}")
