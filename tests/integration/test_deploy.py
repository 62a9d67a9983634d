"""docker-compose.yml and deploy/: valid against the compose spec, and every container runs a real
`vfo run <service>` (Docker cannot run here; the commands themselves run in tests/e2e)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from vfo.stack import SERVICES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def test_compose_file_is_valid_against_the_compose_spec():
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert checker, "check-jsonschema is a dev dependency"
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_service_has_a_container_running_it_and_health_gated_dependencies():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    commands = {name: spec.get("command") for name, spec in services.items() if spec.get("build")}
    assert {tuple(c) for c in commands.values()} == {("run", s) for s in SERVICES}
    for name, spec in services.items():
        depends = spec.get("depends_on") or {}
        rules = depends if isinstance(depends, dict) else dict.fromkeys(depends, "started")
        for dependency, rule in rules.items():
            assert dependency in services, (name, dependency)
            if isinstance(rule, dict) and rule.get("condition") == "service_healthy":
                assert "healthcheck" in services[dependency], dependency


def test_nats_fsyncs_every_write_and_configs_exist():
    assert "sync_interval: always" in (ROOT / "deploy" / "nats.conf").read_text()
    compose = COMPOSE.read_text()
    for path in (
        "deploy/nats.conf",
        "deploy/prometheus.yml",
        "deploy/otel-collector.yaml",
        "deploy/Caddyfile",
    ):
        assert path in compose and (ROOT / path).exists()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["vfo"]' in dockerfile
