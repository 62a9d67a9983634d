"""Services as separate OS processes (`python -m vfo run <service>`), as production runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


class ServiceProcess:
    def __init__(self, service: str, env: dict[str, str], log_dir: Path) -> None:
        self.service = service
        self.log = (log_dir / f"{service}-{os.urandom(3).hex()}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vfo", "run", service],
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill takes its FFmpeg children too
        )

    def kill(self) -> None:
        """SIGKILL, as when a host dies: no cleanup, no ack."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        return self.process.returncode
