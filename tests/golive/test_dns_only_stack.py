"""A stack holding only a sending domain's DNS is a Customer.io stack when its records point at
Customer.io's senders; another provider's mail never is. `golive check`, the real pack over gRPC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from golive import cli

PROGRAM = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "programs" / "cio_dns"


@pytest.mark.parametrize(("item", "code", "expected", "says"), [
    ("", 0, set(), None),
    ("spf-plus-all", 1, {("email-spf-record", "mandatory")}, "ends in `+all`"),
    ("dkim-512", 1, {("email-dkim-record", "mandatory")}, "is 512 bits"),
    ("no-spf", 1, {("email-spf-record", "mandatory")},
     "No SPF record at cio12345.example.com (a sending domain: its MX points at mxa.mailgun.org)"),
    # Google's mail, with `+all` and a 512-bit key: not Customer.io's, never blocked.
    ("other-provider", 0, set(), None),
])
def test_a_dns_only_stack_is_judged_by_whose_senders_its_records_name(item, code, expected, says, capsys):
    got = cli.main(["check", str(PROGRAM), "--stack", "production", "--format", "json",
                    "--config", f"cio-dns:break={item}"])
    report = json.loads(capsys.readouterr().out)
    events = report["policyEvents"]
    # Only the sending-domain rules: a DNS stack is not asked for an App API key or alarms.
    assert (got, {(e["policyName"], e["enforcementLevel"]) for e in events}) == (code, expected)
    if says:
        assert all(says in e["message"] for e in events)
