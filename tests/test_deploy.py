"""The deployment kit (deploy/): the one-machine JupyterHub configuration as the Hub reads it,
and the zero-to-jupyterhub fragment with the same services. (The Hub runs the one-machine file
for real in tests/e2e/test_hub.py and tests/e2e/test_two_servers.py.)"""

from __future__ import annotations

import os

import yaml
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from tests.conftest import REPO

DEPLOY = REPO / "deploy"


def _one_machine(monkeypatch, **env: str):
    """deploy/jupyterhub_config.py as JupyterHub loads it, with only `env` of the cop settings."""
    for name in [n for n in os.environ if n.startswith(("COP_", "PGPASSWORD"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return PyFileConfigLoader("jupyterhub_config.py", str(DEPLOY)).load_config()


def _cop_args(command: list[str]) -> list[str]:
    """A service's `cop` command line from its subcommand on, without what differs by place
    (the address it listens on, kernels started ahead)."""
    start = command.index("cop_widgets.cli") + 1
    return [a for a in command[start:] if not a.startswith(("--ip=", "--pool-size="))]


def test_one_machine_defaults_serve_both_services_on_the_usual_ports(monkeypatch):
    config = _one_machine(monkeypatch)
    services = {s["name"]: s for s in config.JupyterHub.services}
    assert list(services) == ["cop", "cop-review"]
    assert services["cop"]["url"] == "http://127.0.0.1:8866"
    assert _cop_args(services["cop"]["command"]) == ["serve", "--hub", "--port=8866", "--no-demo"]
    assert _cop_args(services["cop-review"]["command"]) == ["review", "--hub", "--port=8867"]
    assert services["cop"]["environment"]["COP_DATA_DIR"] == "/srv/cop/data"
    assert "COP_DATABASE_URL" not in services["cop"]["environment"]  # SQLite in the data folder
    assert config.JupyterHub.bind_url == "http://127.0.0.1:8000"
    [cop_role] = [r for r in config.JupyterHub.load_roles if r["name"] == "cop"]
    assert cop_role["services"] == ["cop", "cop-review"]


def test_one_machine_passes_the_store_on_and_adds_servers(monkeypatch):
    url = "postgresql://cop@db.example.org/cop"
    config = _one_machine(
        monkeypatch, COP_DATABASE_URL=url, COP_SERVE_PORTS="8866,8868", COP_MIN_GROUP="4"
    )
    services = {s["name"]: s for s in config.JupyterHub.services}
    assert list(services) == ["cop", "cop-2", "cop-review"]
    assert services["cop-2"]["url"] == "http://127.0.0.1:8868"
    for service in services.values():
        assert service["environment"]["COP_DATABASE_URL"] == url
        assert service["environment"]["COP_MIN_GROUP"] == "4"


def test_the_kubernetes_fragment_has_the_same_services_and_the_url_from_a_secret(monkeypatch):
    values = yaml.safe_load((DEPLOY / "z2jh-values.yaml").read_text())["hub"]
    one_machine = {s["name"]: s for s in _one_machine(monkeypatch).JupyterHub.services}
    assert set(values["services"]) == set(one_machine)
    for name, service in values["services"].items():
        assert _cop_args(service["command"]) == _cop_args(one_machine[name]["command"])
        assert "COP_DATABASE_URL" not in service["environment"]  # never in a values file
    assert values["extraEnv"]["COP_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "url"
    ports = {p["port"] for p in values["service"]["extraPorts"]}
    assert ports == {8866, 8867}
    # z2jh runs hub.extraConfig after it has made c.JupyterHub.services from hub.services
    monkeypatch.setenv("COP_DATABASE_URL", "postgresql://from-the-secret")
    c = Config()
    c.JupyterHub.services = [dict(s, name=n) for n, s in values["services"].items()]
    exec(values["extraConfig"]["cop-database"], {"c": c})  # noqa: S102 - our own file
    for service in c.JupyterHub.services:
        assert service["environment"]["COP_DATABASE_URL"] == "postgresql://from-the-secret"
