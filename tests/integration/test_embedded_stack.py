"""The embedded stack of `vfo up` as an operator meets it: a restart right after Ctrl-C, a `vfo up`
killed with SIGKILL, a nats-server left running on the store, and `/healthz` meaning ready."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from shared.errors import InfrastructureError
from shared.natsserver import EmbeddedNats, free_port, nats_server_binary
from shared.settings import Settings
from tests.conftest import bearer
from vfo.stack import DataDirLock, Serve, Stack, running_stack, service_entry

CLEAN_ENV = {
    k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL") and not k.startswith("VFO_")
}


def eventually(condition: Callable[[], bool], timeout: float = 60, what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f}s")
        time.sleep(0.05)


async def eventually_async(condition: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, f"not so within {timeout:.0f}s"
        await asyncio.sleep(0.05)


class Up:
    """`vfo up` as a real process, its output kept."""

    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir = data_dir
        self.log_path = log
        self.log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vfo", "up", "--port", str(port), "--data-dir", str(data_dir)],
            env=CLEAN_ENV,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def ready(self) -> dict[str, str]:
        eventually(
            lambda: self.process.poll() is not None or running_stack(self.data_dir) is not None,
            what="vfo up becoming ready",
        )
        assert self.process.poll() is None, self.output()
        info = running_stack(self.data_dir)
        assert info is not None
        return info

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Ctrl-C
            self.process.wait(30)
        self.log.close()
        return self.process.returncode


@contextmanager
def up(data_dir: Path, port: int, log: Path) -> Iterator[Up]:
    running = Up(data_dir, port, log)
    try:
        yield running
    finally:
        running.stop()


def runs(pid: int) -> bool:
    """Whether a process is alive (neither gone nor a zombie)."""
    ps = ["ps", "-o", "stat=", "-p", str(pid)]
    state = subprocess.run(ps, capture_output=True, text=True, check=False).stdout.strip()
    return bool(state) and not state.startswith("Z")


def time_wait_on(port: int) -> None:
    """Leave a connection on `port` in TIME_WAIT: the side bound to `port` closes first."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()
        client.recv(1)  # the server's FIN has arrived
        client.close()


def test_up_starts_on_a_port_whose_last_connection_is_in_time_wait(tmp_path: Path):
    # given a port that a stack stopped a moment ago used: one of its connections is in TIME_WAIT
    port = free_port()
    time_wait_on(port)
    with socket.socket() as plain, pytest.raises(OSError, match="in use"):
        plain.bind(("127.0.0.1", port))  # (a bind without SO_REUSEADDR is refused: it is in TIME_WAIT)
    # when vfo up starts on that port
    with up(tmp_path / "d", port, tmp_path / "up.log") as stack:
        # then it comes up there
        assert stack.ready()["board_url"] == f"http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    assert stack.process.returncode == 0 and "stopped." in stack.output()


def test_up_still_refuses_a_port_another_program_listens_on(tmp_path: Path):
    # given a port with a listener
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        # when vfo up is asked to use it
        result = subprocess.run(
            [sys.executable, "-m", "vfo", "up", "--port", str(port), "--data-dir", str(tmp_path / "d")],
            env=CLEAN_ENV,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    # then it says which port and what to do, in one line
    assert result.returncode == 2
    assert f"port {port} is in use; pass another with --port" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_vfo_up_killed_with_sigkill_takes_its_nats_server_with_it(tmp_path: Path):
    # given a running vfo up and its embedded nats-server
    data = tmp_path / "d"
    first = Up(data, free_port(), tmp_path / "first.log")
    first.ready()
    store = EmbeddedNats(data / "nats")
    server = store.holder()
    assert server is not None
    try:
        # when vfo up is killed with SIGKILL (no cleanup of any kind)
        first.process.kill()
        first.process.wait(10)
        first.log.close()
        # then its nats-server ends too
        eventually(lambda: not runs(server), timeout=10, what=f"nats-server {server} ending")
    finally:
        if runs(server):  # the test failed: do not leave it behind
            os.kill(server, signal.SIGKILL)
    # and a new vfo up on the same data directory starts, its admin key still good
    with up(data, free_port(), tmp_path / "second.log") as second:
        info = second.ready()
        key = (data / "admin-key").read_text().strip()
        assert httpx.get(f"{info['board_url']}/api/v1/jobs", headers=bearer(key)).status_code == 200


def test_a_new_vfo_up_stops_a_nats_server_left_running_on_its_store(tmp_path: Path):
    # given a data directory with a job in it
    data = tmp_path / "d"
    with up(data, free_port(), tmp_path / "first.log") as first:
        info = first.ready()
        key = (data / "admin-key").read_text().strip()
        created = httpx.post(
            f"{info['board_url']}/api/v1/jobs",
            json={"title": "Kept", "brief": "A job that must survive."},
            headers=bearer(key),
        )
        assert created.status_code == 201, created.text
    # and a nats-server still running on its store with no vfo process left (as after a kill on a
    # system where it cannot die with its parent): an orphan, started through a shell that exits
    store = EmbeddedNats(data / "nats")
    orphan = f'"{nats_server_binary()}" -c "{store.conf.resolve()}" >/dev/null 2>&1 &'
    subprocess.run(["sh", "-c", orphan], check=True)  # noqa: S607
    eventually(lambda: store.holder() is not None, timeout=10, what="the leftover server starting")
    leftover = store.holder()
    assert leftover is not None
    try:
        # when vfo up starts on that data directory
        with up(data, free_port(), tmp_path / "second.log") as second:
            info = second.ready()
            # then it stopped the leftover (and said so), and the data is all there
            assert not runs(leftover)
            assert f"stopped nats-server {leftover}" in second.output()
            jobs = httpx.get(f"{info['board_url']}/api/v1/jobs", headers=bearer(key)).json()
            assert [job["title"] for job in jobs["items"]] == ["Kept"]
    finally:
        if runs(leftover):  # the test failed: do not leave the orphan behind
            os.kill(leftover, signal.SIGKILL)


async def test_a_data_directory_in_use_is_refused(tmp_path: Path):
    # given a data directory another vfo process holds
    data = tmp_path / "d"
    held = DataDirLock(data)
    held.acquire()
    try:
        # when a stack is started on it
        with pytest.raises(InfrastructureError) as refused:
            async with Stack(Settings(NATS_URL=None, data_dir=data, port=free_port())):
                pass
        # then it is refused, naming the holder and the fix
        assert f"in use by another vfo process (pid {os.getpid()})" in str(refused.value)
        assert "use another --data-dir" in str(refused.value)
    finally:
        held.release()


async def test_healthz_is_ready_only_once_every_service_is(settings: Settings):
    # given a stack whose registry is held back at its start
    gate = asyncio.Event()

    def entry(name: str) -> Serve:
        serve = service_entry(name)
        if name != "registry":
            return serve

        async def later(settings: Settings, stop: asyncio.Event, host: object) -> None:
            opened = asyncio.create_task(gate.wait())
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait([opened, stopped], return_when=asyncio.FIRST_COMPLETED)
            opened.cancel()
            stopped.cancel()
            if gate.is_set() and not stop.is_set():
                await serve(settings, stop, host)

        return later

    stack = Stack(settings, entry=entry)
    starting = asyncio.create_task(stack.__aenter__())
    try:
        async with httpx.AsyncClient(base_url=stack.board_url, timeout=5) as http:

            async def only_registry_missing() -> bool:
                try:
                    answer = await http.get("/healthz")
                except httpx.TransportError:
                    return False
                return answer.json().get("waiting_for") == ["registry"]

            # when everything else is ready
            await eventually_async(only_registry_missing, timeout=30)
            # then the stack is not: /healthz says what it waits for, and indeed the registry's
            # routes are not served and there is no admin key yet
            health = await http.get("/healthz")
            assert health.status_code == 503 and health.json()["status"] == "starting"
            assert (await http.get("/api/v1/registry")).status_code == 404  # the board's: nobody else serves
            assert not (settings.data_dir / "admin-key").exists()
            assert not starting.done()
            # when the registry starts
            gate.set()
            await starting
            # then /healthz says ready, the registry answers and the admin key exists
            assert (await http.get("/healthz")).status_code == 200
            key = (settings.data_dir / "admin-key").read_text().strip()
            assert (await http.get("/api/v1/registry", headers=bearer(key))).status_code == 200
    finally:
        gate.set()
        if not starting.done():
            starting.cancel()
        await stack.__aexit__(None, None, None)
