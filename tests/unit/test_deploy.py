"""deploy/: the files operators copy must parse, load, and agree with one another.

The replicas' configuration must load with the environment the manifests give it; the service managers
must wait longer than the replicas' drain; the load balancer must never replay a request a replica
received. tests/cluster/ runs these files for real; these checks need no cluster.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from releve.config import load_config, parse_config, parse_duration

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MANIFEST = DEPLOY / "kubernetes" / "releve.yaml"
REQUIRED_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")  # ${VAR} without a default

# Plausible values for the variables the configurations read (the rest get an opaque 24-character secret).
VALUES = {"RELEVE_DATABASE_URL": "postgresql://releve@db.internal:5432/releve",
          "RELEVE_REDIS_URL": "redis://redis.internal:6379/0",
          "RELEVE_WEBHOOK_URL": "https://hooks.example.com/releve"}


def environment(names: set[str] | list[str]) -> dict[str, str]:
    return {name: VALUES.get(name, "s3cr3t-" + "x" * 17) for name in names}


def manifest() -> dict[str, dict[str, Any]]:
    documents = [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc is not None]
    kinds = [doc["kind"] for doc in documents]
    assert sorted(kinds) == ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service"]
    return {doc["kind"]: doc for doc in documents}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    found: dict[str, Any] = containers[0]
    return found


def test_the_example_replica_config_loads_with_postgresql_and_redis_from_the_environment() -> None:
    text = (DEPLOY / "releve.yaml").read_text()
    config = load_config(DEPLOY / "releve.yaml", environment(set(REQUIRED_VAR.findall(text))))
    assert config.storage.url == VALUES["RELEVE_DATABASE_URL"]
    assert config.shared_state.url == VALUES["RELEVE_REDIS_URL"]
    assert config.shared_state.prefix == "releve:"
    assert config.server.listen == "0.0.0.0:8080"


def test_the_kubernetes_manifest_hangs_together() -> None:
    docs = manifest()
    deployment, budget, service = docs["Deployment"], docs["PodDisruptionBudget"], docs["Service"]
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["minAvailable"] == 2
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    main = container(deployment)
    ports = {port["name"]: port["containerPort"] for port in main["ports"]}
    assert [port["targetPort"] for port in service["spec"]["ports"]] == ["http"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert main[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, probe
    assert {c["topologyKey"] for c in pod["spec"]["topologySpreadConstraints"]} >= {"kubernetes.io/hostname"}
    assert "memory" in main["resources"]["requests"] and "memory" in main["resources"]["limits"]

    # The config the pods read: mounted where the command looks, listening on the container's port.
    config_path = main["command"][main["command"].index("--config") + 1]
    mount = next(m for m in main["volumeMounts"] if m["name"] == "config")
    assert config_path == f"{mount['mountPath']}/releve.yaml"
    text = docs["ConfigMap"]["data"]["releve.yaml"]
    declared = [variable["name"] for variable in main["env"]]
    assert set(REQUIRED_VAR.findall(text)) <= set(declared), "a ${VAR} of releve.yaml that no env entry sets"
    config = parse_config(text, environment(declared))
    assert config.server.port == ports["http"]
    assert config.storage.url.startswith("postgresql://")
    assert config.shared_state.url.startswith("redis://")

    # SIGKILL comes only after the preStop pause and the whole drain.
    pause = float(main["lifecycle"]["preStop"]["exec"]["command"][1])
    assert pod["spec"]["terminationGracePeriodSeconds"] > pause + config.server.shutdown_grace


def unit_file() -> dict[str, list[str]]:
    """The unit's `Key=value` lines (keys may repeat, as systemd allows)."""
    entries: dict[str, list[str]] = {}
    for line in (DEPLOY / "releve.service").read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            entries.setdefault(key, []).append(value)
    return entries


def test_the_systemd_unit_outwaits_the_drain_and_is_valid(tmp_path: Path) -> None:
    unit = unit_file()
    text = (DEPLOY / "releve.yaml").read_text()
    grace = load_config(DEPLOY / "releve.yaml", environment(set(REQUIRED_VAR.findall(text)))).server.shutdown_grace
    assert parse_duration(unit["TimeoutStopSec"][0]) > grace
    assert unit["ExecStart"] == ["/opt/releve/.venv/bin/releve up --config /etc/releve/releve.yaml"]
    assert unit["KillSignal"] == ["SIGTERM"] and unit["KillMode"] == ["mixed"]
    assert unit["EnvironmentFile"] == ["/etc/releve/releve.env"]
    assert unit["User"] == ["releve"] and unit["NoNewPrivileges"] == ["yes"] and unit["ProtectSystem"] == ["strict"]
    # systemd's own parser, where systemd is installed: any unknown key or bad value is reported on stderr.
    # ExecStart is pointed at a binary that exists here; the rest is checked as shipped.
    analyze = shutil.which("systemd-analyze")
    if analyze is not None:
        copy = tmp_path / "releve.service"
        copy.write_text(re.sub(r"(?m)^ExecStart=.*$", "ExecStart=/bin/true",
                               (DEPLOY / "releve.service").read_text()))
        result = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True,
                                timeout=60)
        assert result.stderr.strip() == "", result.stderr


def haproxy_lines() -> list[str]:
    return [line.split("#")[0].strip() for line in (DEPLOY / "haproxy.cfg").read_text().splitlines()
            if line.split("#")[0].strip()]


def test_haproxy_retries_only_requests_no_replica_received() -> None:
    lines = haproxy_lines()
    assert [line for line in lines if line.startswith("retry-on")] == ["retry-on conn-failure"]
    assert "option redispatch 1" in lines
    assert "http-check send meth GET uri /healthz" in lines and "http-check expect status 200" in lines
    servers = [line for line in lines if line.startswith("server ")]
    assert servers == [f'server r{n} "${{RELEVE_REPLICA_{n}}}" check inter 500ms fall 2 rise 2' for n in (1, 2, 3)]
    assert 'bind "${RELEVE_LB_BIND}"' in lines
    assert "timeout server 10m" in lines and "timeout client 10m" in lines


def test_haproxy_accepts_the_file_as_shipped_started_as_root_or_not() -> None:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    assert Path(haproxy).exists(), "haproxy is missing: `make test` installs it (Debian package haproxy)"
    env = {**os.environ, "RELEVE_LB_BIND": "127.0.0.1:8080",
           **{f"RELEVE_REPLICA_{n}": f"127.0.0.1:{8080 + n}" for n in (1, 2, 3)}}
    env.pop("RELEVE_LB_USER", None)
    # The Debian package creates the haproxy user, which the packaged service drops to.
    for extra in ({}, {"RELEVE_LB_USER": "haproxy"}):
        result = subprocess.run([haproxy, "-c", "-f", str(DEPLOY / "haproxy.cfg")], env={**env, **extra},
                                capture_output=True, text=True, timeout=60)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "[WARNING]" not in output and "[ALERT]" not in output, output
