"""golive's AWS clients are made in one place (golive.clients.aws): each command's clients have the same
retries and the timeouts it asks for, and no other module of the tool configures one of its own."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from golive.clients import aws as aws_clients
from golive.operations.audit.aws_calls import shared_client
from golive.operations.audit.target import Endpoints
from golive.operations.fingerprints import secrets_client
from golive.operations.rollout.aws import Clients

ROOT = Path(__file__).resolve().parents[2]


def _settings(client) -> tuple[float, float, dict]:
    config = client.meta.config
    return config.connect_timeout, config.read_timeout, config.retries


def test_every_command_gets_its_timeouts_and_the_same_retries(aws):
    # botocore keeps max_attempts as total_max_attempts, the first try included
    retries = {"mode": "standard", "total_max_attempts": aws_clients.ATTEMPTS + 1}
    assert _settings(secrets_client(aws, "us-east-1")) == (5.0, 10.0, retries)
    assert _settings(Clients(aws, "us-east-1", 7.0).get("ssm")) == (7.0, 7.0, retries)
    target = SimpleNamespace(endpoints=Endpoints(aws_url=aws, aws_region="us-east-1", timeout=3.0))
    assert _settings(shared_client(target, "cloudwatch")) == (3.0, 3.0, retries)
    # ... and each reaches the endpoint it was given
    assert secrets_client(aws, "us-east-1").meta.endpoint_url == aws


def test_no_other_module_of_the_tool_builds_a_client_or_its_config():
    own = re.compile(r"\bboto3\.client\(|\bConfig\(|\.client\(\s*service\b")
    found = [f"{path.relative_to(ROOT)}:{number}" for path in (ROOT / "golive").rglob("*.py")
             if path != ROOT / "golive" / "clients" / "aws.py" and path.name != "metrics.py"
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if own.search(line)]
    assert found == []
