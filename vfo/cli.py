"""The `vfo` command line."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from shared.config import LANGUAGES
from shared.errors import InvalidInput, VideoFactoryError
from shared.natsserver import free_port
from shared.runtime import configure_logging
from shared.settings import Settings
from vfo.client import MakeFailed, make_video
from vfo.stack import SERVICES, Stack, running_stack, service_entry

app = typer.Typer(no_args_is_help=True, help="Video Factory: a title and a brief in, a narrated video out.")
board_app = typer.Typer(no_args_is_help=True, help="The board's read model.")
app.add_typer(board_app, name="board")
registry_app = typer.Typer(no_args_is_help=True, help="The configuration registry.")
app.add_typer(registry_app, name="registry")
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
def up(port: Port = 8000, data_dir: DataDir = Path("var"), host: str = "127.0.0.1") -> None:
    """Start everything here: NATS (embedded unless NATS_URL is set), the database and every service."""
    settings = _settings(port=port, data_dir=data_dir, host=host)
    configure_logging(settings)

    async def main() -> None:
        async with Stack(settings) as stack:
            _stop_on_signals(stack.stop)
            console.print(
                f"[green]Video Factory is up.[/green] Board API: {stack.board_url}  (Ctrl-C stops it)"
            )
            console.print(f"NATS: {stack.settings.nats_url}   data: {settings.data_dir.resolve()}")
            await stack.wait()
        console.print("stopped.")

    _run(main())


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

    async def main() -> Path:
        running = running_stack(data_dir)
        if running:
            return await make_video(running["board_url"], title, brief, lang, out, image or [], console)
        settings = _settings(data_dir=data_dir, port=free_port())
        configure_logging(settings.model_copy(update={"log_level": "WARNING"}))
        async with Stack(settings) as stack:
            return await make_video(stack.board_url, title, brief, lang, out, image or [], console)

    path = _run(main())
    console.print(f"[green]Video ready:[/green] {path}")


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
        f"{_board_url(data_dir)}/api/v1/registry/export", params={"format": format}, timeout=60
    )
    response.raise_for_status()
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
        headers={"content-type": "text/plain"},
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
        response = httpx.post(f"{running['board_url']}/api/v1/admin/projection/rebuild", timeout=600)
        response.raise_for_status()
        console.print(f"rebuilt: position {response.json()['position']}")
        return
    settings = _settings(data_dir=data_dir)
    if not settings.nats_url:
        err_console.print("[red]error:[/red] start the stack (`vfo up`) or set NATS_URL to rebuild offline")
        raise typer.Exit(1)
    position = _run(rebuild_offline(settings))
    console.print(f"rebuilt: position {position}")
