"""What the board's HTTP handlers need, built once by the composition root (services/board/main.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.board.boardconfig import BoardConfig
from services.board.hub import Hub
from shared.artifacts import ArtifactStore
from shared.configstore import ConfigReader
from shared.eventstore import EventStore


@dataclass
class BoardContext:
    store: EventStore
    config: ConfigReader
    engine: AsyncEngine
    hub: Hub
    artifacts: ArtifactStore
    board_config: BoardConfig
    cache_dir: Path
    ready: asyncio.Event = field(default_factory=asyncio.Event)


def _context(request: Request) -> BoardContext:
    context: BoardContext = request.app.state.board
    return context


Ctx = Annotated[BoardContext, Depends(_context)]
