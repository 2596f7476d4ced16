"""The analyzer session drives a real pack process over gRPC, in the engine's order and wire forms."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from golive.analysis import policyconfig
from golive.analysis.analyzer import AnalyzerSession
from golive.analysis.packprocess import PackError, load_pack_project
from golive.preview.graph import ResourceGraph, ResourceNode, ResourceOptions, SourcePosition
from golive.preview.wire import OUTPUT_SIG as OUTPUT_VALUE_SIG
from golive.preview.wire import RESOURCE_SIG as RESOURCE_REF_SIG
from golive.preview.wire import SECRET_SIG, UNKNOWN, engine_view
from golive.preview.wire import SIG as SIG_KEY

PACKS = Path(__file__).resolve().parent.parent / "fixtures" / "packs"
RECORDER = PACKS / "recorder"
ROOT = Path(__file__).resolve().parent.parent.parent
PREFIX = "urn:pulumi:dev::proj::"
STACK = f"{PREFIX}pulumi:pulumi:Stack::proj-dev"
PROVIDER = f"{PREFIX}pulumi:providers:test::default_1_0_0"
BUCKET = f"{PREFIX}test:index:Bucket::logs"
SECRET = f"{PREFIX}test:index:Secret::api-key"
SERVICE = f"{PREFIX}my:app:Service::svc"
ROTATION = f"{PREFIX}my:app:Service$test:index:Rotation::api-key-rotation"
ORPHAN = f"{PREFIX}test:index:Rotation::orphan"


def secret(value):
    return {SIG_KEY: SECRET_SIG, "value": value}


def make_graph() -> ResourceGraph:
    return ResourceGraph(
        project="proj",
        stack="dev",
        config={"app:name": "demo", "app:token": "t0ps3cret"},
        secret_keys=["app:token"],
        program_dir="/repo/infra",
        resources=[
            ResourceNode(
                STACK,
                "pulumi:pulumi:Stack",
                "proj-dev",
                False,
                {},
                {"bucketName": UNKNOWN},
                source=SourcePosition("__main__.py", 1),
            ),
            ResourceNode(
                PROVIDER,
                "pulumi:providers:test",
                "default_1_0_0",
                True,
                {"region": "us-east-1", "version": "1.0.0", "__internal": {"pluginDownloadURL": ""}},
                {"region": "us-east-1", "version": "1.0.0"},
            ),
            ResourceNode(
                BUCKET,
                "test:index:Bucket",
                "logs",
                True,
                {"versioning": False, "arn": UNKNOWN},
                {"versioning": False, "arn": UNKNOWN},
                parent=STACK,
                provider=f"{PROVIDER}::{UNKNOWN}",
                options=ResourceOptions(protect=True, ignore_changes=["tags"], delete_before_replace=False),
                source=SourcePosition("__main__.py", 12),
            ),
            ResourceNode(
                SECRET,
                "test:index:Secret",
                "api-key",
                True,
                {"value": secret("hunter2")},
                {"value": secret("hunter2"), "id": UNKNOWN},
                parent=STACK,
                provider=PROVIDER,
                source=SourcePosition("__main__.py", 20),
            ),
            ResourceNode(
                SERVICE,
                "my:app:Service",
                "svc",
                False,
                {},
                {},
                parent=STACK,
                source=SourcePosition("components/service.py", 8),
            ),
            ResourceNode(
                ROTATION,
                "test:index:Rotation",
                "api-key-rotation",
                True,
                {
                    "secretId": UNKNOWN,
                    "secretRef": {SIG_KEY: RESOURCE_REF_SIG, "urn": SECRET, "id": ""},
                    "serviceRef": {SIG_KEY: RESOURCE_REF_SIG, "urn": SERVICE},
                    "days": {SIG_KEY: OUTPUT_VALUE_SIG, "value": 30, "secret": True},
                },
                {"secretId": UNKNOWN},
                parent=SERVICE,
                provider=PROVIDER,
                dependencies=[SECRET],
                property_dependencies={"secretId": [SECRET], "days": []},
                source=SourcePosition("components/service.py", 15),
            ),
            ResourceNode(
                ORPHAN,
                "test:index:Rotation",
                "orphan",
                True,
                {"secretId": "arn:aws:hardcoded"},
                {"secretId": "arn:aws:hardcoded"},
                parent=STACK,
                provider=PROVIDER,
                source=SourcePosition("__main__.py", 30),
            ),
        ],
    )


@pytest.fixture
def calls(tmp_path, monkeypatch):
    path = tmp_path / "calls.jsonl"
    monkeypatch.setenv("GOLIVE_TEST_CALLS", str(path))

    def read() -> list[dict]:
        return [json.loads(line) for line in path.read_text().splitlines()]

    return read


def gone(pid: int, wait: float = 3.0) -> bool:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a reparented grandchild lingers as a zombie until init reaps it
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().split(")")[-1].split()[0] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def run_recorder(**start):
    with AnalyzerSession.start(RECORDER, make_graph(), **start) as session:
        diagnostics = session.run()
        return session, diagnostics


def test_calls_come_in_the_engine_order(calls):
    session, _ = run_recorder()
    methods = [c["call"] for c in calls() if c["call"][0].isupper()]
    per_resource = ["Remediate", "Analyze"] * len(make_graph().resources)
    expected = ["Handshake", "ConfigureStack", "GetAnalyzerInfo", "Configure", *per_resource, "AnalyzeStack"]
    assert methods == expected
    assert session.calls == expected
    analyzed = [c["request"]["urn"] for c in calls() if c["call"] == "Analyze"]
    # Every registered resource, in registration order: the stack, the default provider, components too.
    assert analyzed == [r.urn for r in make_graph().resources]


def test_pack_starts_as_the_language_host_starts_it(calls):
    session, _ = run_recorder()
    start = next(c for c in calls() if c["call"] == "start")
    assert start["cwd"] == str(RECORDER)
    assert start["env"]["PULUMI_PROJECT"] == "proj" and start["env"]["PULUMI_STACK"] == "dev"
    assert start["env"]["PULUMI_ORGANIZATION"] == "organization"
    assert start["env"]["PULUMI_DRY_RUN"] == "true"
    assert json.loads(start["env"]["PULUMI_CONFIG"]) == {"app:name": "demo", "app:token": "t0ps3cret"}
    # The language host never sets it for a policy pack; the secret keys come with ConfigureStack.
    assert start["env"]["PULUMI_CONFIG_SECRET_KEYS"] is None
    assert start["stack"] == "dev" and start["project"] == "proj" and start["app_name"] == "demo"
    assert "no virtualenv" in session.python.note and session.python.executable == sys.executable

    stack_config = next(c["request"] for c in calls() if c["call"] == "ConfigureStack")
    assert stack_config == {
        "stack": "dev",
        "project": "proj",
        "organization": "organization",
        "dryRun": True,
        "config": {"app:name": "demo", "app:token": "t0ps3cret"},
        "configSecretKeys": ["app:token"],
    }
    handshake = next(c["request"] for c in calls() if c["call"] == "Handshake")
    assert handshake["rootDirectory"] == handshake["programDirectory"] == str(RECORDER)


def test_tags_reach_configure_stack(calls):
    with AnalyzerSession.start(RECORDER, make_graph(), tags={"pulumi:project": "proj"}):
        pass
    assert next(c["request"] for c in calls() if c["call"] == "ConfigureStack")["tags"] == {
        "pulumi:project": "proj"
    }


def test_unknowns_and_secrets_reach_the_pack_in_wire_form(calls):
    run_recorder()
    analyze = {c["request"]["urn"]: c["request"] for c in calls() if c["call"] == "Analyze"}
    remediate = {c["request"]["urn"]: c["request"] for c in calls() if c["call"] == "Remediate"}
    assert analyze[BUCKET]["properties"] == {"versioning": False, "arn": UNKNOWN}
    assert analyze[SECRET]["properties"] == {"value": {SIG_KEY: SECRET_SIG, "value": "hunter2"}}
    # Resource references collapse to the id (unknown while the id is) or the URN;
    # output values to their element.
    assert analyze[ROTATION]["properties"] == {
        "secretId": UNKNOWN,
        "secretRef": UNKNOWN,
        "serviceRef": SERVICE,
        "days": {SIG_KEY: SECRET_SIG, "value": 30.0},
    }
    # Top-level `__` keys: hidden from Analyze and from the provider resource, not from Remediate.
    assert "__internal" not in analyze[PROVIDER]["properties"]
    assert "__internal" in remediate[PROVIDER]["properties"]
    provider = analyze[BUCKET]["provider"]
    assert provider == {
        "type": "pulumi:providers:test",
        "name": "default_1_0_0",
        "urn": PROVIDER,
        "properties": {"region": "us-east-1", "version": "1.0.0"},
    }
    assert analyze[PROVIDER]["provider"] is None and analyze[STACK]["provider"] is None
    assert analyze[BUCKET]["options"] == {
        "protect": True,
        "ignoreChanges": ["tags"],
        "deleteBeforeReplaceDefined": True,
        "customTimeouts": {},
        "parent": STACK,
    }


def test_analyze_stack_gets_outputs_parents_and_dependencies(calls):
    run_recorder()
    stack_call = next(c["request"] for c in calls() if c["call"] == "AnalyzeStack")
    resources = {r["urn"]: r for r in stack_call["resources"]}
    assert list(resources) == [r.urn for r in make_graph().resources]
    assert resources[STACK]["properties"] == {"bucketName": UNKNOWN}
    assert resources[SECRET]["properties"] == {
        "value": {SIG_KEY: SECRET_SIG, "value": "hunter2"},
        "id": UNKNOWN,
    }
    rotation = resources[ROTATION]
    assert rotation["parent"] == SERVICE and rotation["dependencies"] == [SECRET]
    assert rotation["propertyDependencies"] == {"secretId": {"urns": [SECRET]}}  # empty lists are left out
    assert "parent" not in resources[STACK]


def test_property_dependencies_resolve_to_policy_resources(calls):
    run_recorder()
    linked = {c["urn"]: c for c in calls() if c["call"] == "propdeps"}
    assert linked[ROTATION]["secretId"] == [["test:index:Secret", "api-key"]]
    assert linked[ROTATION]["parent"] == SERVICE and linked[ROTATION]["dependencies"] == [SECRET]
    assert linked[ORPHAN]["secretId"] == []


def test_diagnostics_are_attributed_as_the_engine_does():
    session, diagnostics = run_recorder()
    by_policy = {}
    for d in diagnostics:
        by_policy.setdefault(d.policy_name, []).append(d)
    [orphan] = by_policy["rotation-linked"]
    assert (orphan.urn, orphan.enforcement_level, orphan.severity, orphan.phase) == (
        ORPHAN,
        "mandatory",
        "critical",
        "analyzeStack",
    )
    assert orphan.message == "Every rotation rotates a secret.\nthis rotation is linked to no secret"
    [note] = by_policy["stack-note"]
    assert (
        note.reported_urn == "" and note.urn == STACK
    )  # unnamed stack-level diagnostics go to the root stack
    [cant_run] = by_policy["unknown-toucher"]
    # A mandatory policy that touched an unknown: the SDK reports it, at ADVISORY, on the analyzed resource.
    assert cant_run.enforcement_level == "advisory" and cant_run.urn == BUCKET and cant_run.phase == "analyze"
    assert "can't run policy 'unknown-toucher'" in cant_run.message and "during preview" in cant_run.message
    # PulumiPolicy.yaml's version replaces the SDK's "0.0.1"; a missing severity comes from the policy.
    assert {d.policy_pack_version for d in diagnostics} == {"1.2.3"}
    [versioning] = by_policy["bucket-versioning"]
    assert versioning.severity == "high" and versioning.urn == BUCKET
    assert session.info is not None and session.info.version == "1.2.3"


def test_initial_config_without_a_level_makes_the_policy_advisory_as_in_the_engine():
    # The SDK leaves enforcementLevel unset in initialConfig; the engine reads the enum's zero, ADVISORY.
    _, diagnostics = run_recorder()
    assert (
        next(d for d in diagnostics if d.policy_name == "bucket-versioning").enforcement_level == "advisory"
    )


def test_reconciled_config_reaches_configure_and_the_policy(calls):
    with AnalyzerSession.start(RECORDER, make_graph()) as session:
        file_config = policyconfig.parse(
            {"bucket-versioning": {"enforcementLevel": "mandatory", "maxBuckets": 3}}
        )
        diagnostics = session.run(policyconfig.reconcile(session.info, file_config, source="pack.json"))
        assert session.info.policy("bucket-versioning").enforcement_level == "mandatory"
    configure = next(c["request"] for c in calls() if c["call"] == "Configure")["policyConfig"]
    assert set(configure) == {
        "bucket-versioning",
        "unknown-toucher",
        "rotation-linked",
        "stack-note",
        "tag-fixer",
    }
    assert configure["bucket-versioning"] == {
        "enforcementLevel": "MANDATORY",
        "properties": {"maxBuckets": 3.0, "label": "from-schema"},
    }
    assert configure["tag-fixer"]["enforcementLevel"] == "DISABLED"
    seen = next(c["config"] for c in calls() if c["call"] == "config")
    assert seen == {"maxBuckets": 3.0, "label": "from-schema"}
    assert (
        next(d for d in diagnostics if d.policy_name == "bucket-versioning").enforcement_level == "mandatory"
    )


def test_remediation_changes_what_analyze_sees(calls):
    with AnalyzerSession.start(RECORDER, make_graph()) as session:
        session.run(policyconfig.reconcile(session.info, policyconfig.parse({"tag-fixer": "remediate"})))
        assert [(r.policy_name, r.urn) for r in session.remediations] == [("tag-fixer", BUCKET)]
    analyze = {c["request"]["urn"]: c["request"] for c in calls() if c["call"] == "Analyze"}
    assert analyze[BUCKET]["properties"] == {"versioning": False, "tags": {"fixed": "yes"}}
    assert analyze[SECRET]["properties"] == {"value": {SIG_KEY: SECRET_SIG, "value": "hunter2"}}


def test_process_group_is_ended_and_reaped(calls, monkeypatch):
    monkeypatch.setenv("GOLIVE_TEST_SPAWN", "1")
    with AnalyzerSession.start(RECORDER, make_graph()) as session:
        pid = session.pid
        assert pid is not None and not gone(pid, wait=0)
    grandchild = next(c["pid"] for c in calls() if c["call"] == "spawned")
    assert gone(pid) and gone(grandchild)


def test_process_is_ended_when_the_caller_fails():
    with pytest.raises(KeyboardInterrupt), AnalyzerSession.start(RECORDER, make_graph()) as session:
        pid = session.pid
        raise KeyboardInterrupt
    assert gone(pid)


def test_pack_that_crashes_on_start_reports_its_stderr():
    started = time.monotonic()
    with pytest.raises(PackError) as err:
        AnalyzerSession.start(PACKS / "crash", make_graph(), start_timeout=20)
    assert "exited before printing its port" in str(err.value)
    assert "pack exploded: missing-module-for-test" in str(err.value)
    assert time.monotonic() - started < 15


def test_pack_that_never_prints_a_port_times_out_and_is_killed(tmp_path, monkeypatch):
    pidfile = tmp_path / "pid"
    monkeypatch.setenv("GOLIVE_TEST_PIDFILE", str(pidfile))
    started = time.monotonic()
    with pytest.raises(PackError, match=r"did not print its port within 1\.5 s"):
        AnalyzerSession.start(PACKS / "silent", make_graph(), start_timeout=1.5)
    assert time.monotonic() - started < 10
    assert gone(int(pidfile.read_text()))


def test_pack_that_prints_before_its_port_fails_as_under_the_cli():
    with pytest.raises(PackError, match="printed 'hello from the pack' where its port belongs"):
        AnalyzerSession.start(PACKS / "chatty", make_graph(), start_timeout=20)


def test_every_call_has_a_deadline(monkeypatch):
    monkeypatch.setenv("GOLIVE_TEST_HANG", "Analyze")
    started = time.monotonic()
    with pytest.raises(
        PackError,
        match=r"did not answer Analyze\(urn:pulumi:dev::proj::pulumi:pulumi:Stack::proj-dev\) "
        r"within 1 s",
    ):
        run_recorder(call_timeout=1.0)
    assert time.monotonic() - started < 10


def test_pack_that_dies_during_a_call(monkeypatch):
    monkeypatch.setenv("GOLIVE_TEST_DIE_ON", "AnalyzeStack")
    with pytest.raises(PackError, match=r"exited \(status 7\) during AnalyzeStack"):
        run_recorder()


def test_pack_virtualenv_is_used_and_activated(tmp_path, calls):
    pack = tmp_path / "pack"
    shutil.copytree(RECORDER, pack)
    (pack / "PulumiPolicy.yaml").write_text(
        "version: 2.0\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n"
    )
    python = pack / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    # A stand-in virtualenv: its python runs golive's, so the pack still finds pulumi_policy.
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    with AnalyzerSession.start(pack, make_graph()) as session:
        assert session.python.executable == str(python)
        assert "the pack's virtualenv" in session.python.note
        assert session.info.version == "2.0"
    start = next(c for c in calls() if c["call"] == "start")
    assert start["env"]["VIRTUAL_ENV"] == str(pack / "venv")


def test_missing_virtualenv_falls_back_and_says_so():
    project = load_pack_project(PACKS / "crash")
    from golive.analysis.packprocess import choose_python

    python = choose_python(project)
    assert python.executable == sys.executable and python.virtualenv is None
    assert "names virtualenv 'venv', which does not exist" in python.note


def test_pack_project_errors_name_the_file(tmp_path):
    with pytest.raises(PackError, match=r"PulumiPolicy\.yaml: not found"):
        load_pack_project(tmp_path)
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: nodejs\n")
    with pytest.raises(PackError, match="runtime 'nodejs': golive runs Python policy packs only"):
        AnalyzerSession.start(tmp_path, make_graph())
    (tmp_path / "PulumiPolicy.yaml").write_text("version: 1\n")
    with pytest.raises(PackError, match="runtime: missing"):
        load_pack_project(tmp_path)


def test_engine_view_collapses_refs_and_output_values():
    assert engine_view({SIG_KEY: RESOURCE_REF_SIG, "urn": SERVICE}) == SERVICE
    assert engine_view({SIG_KEY: RESOURCE_REF_SIG, "urn": SECRET, "id": "sec-123"}) == "sec-123"
    assert engine_view({SIG_KEY: RESOURCE_REF_SIG, "urn": SECRET, "id": ""}) == UNKNOWN
    assert engine_view({SIG_KEY: OUTPUT_VALUE_SIG}) == UNKNOWN
    assert engine_view([{SIG_KEY: OUTPUT_VALUE_SIG, "value": {"a": 1}}]) == [{"a": 1}]
    assert engine_view(secret(UNKNOWN)) == secret(UNKNOWN)


def _real_pack_builds() -> bool:
    try:
        import checklist.pack as real

        real.build_policies()
    except Exception:
        return False
    return True


@pytest.mark.skipif(not _real_pack_builds(), reason="the real pack's rules are not all written yet")
def test_real_pack_answers_every_call():
    graph = ResourceGraph(
        project="proj",
        stack="dev",
        resources=[
            ResourceNode(STACK, "pulumi:pulumi:Stack", "proj-dev", False, {}, {}),
        ],
    )
    with AnalyzerSession.start(ROOT / "policies", graph, start_timeout=60) as session:
        assert session.info is not None and session.info.name == "golive-customerio"
        assert all(p.policy_type == "stack" for p in session.info.policies)
        session.run()
        assert session.calls[-1] == "AnalyzeStack"


def test_urn_name_keeps_double_colons_in_names():
    from golive.analysis.protocol import urn_name as _urn_name

    assert _urn_name(f"{PREFIX}test:index:Bucket::a::b", "x") == "a::b"
    assert _urn_name("not-a-urn", "fallback") == "fallback"


def test_environment_is_rebuilt_not_inherited(tmp_path):
    from golive.analysis.packprocess import PackPython, pack_environment

    base = {"PULUMI_CONFIG": '{"stale":"1"}', "PULUMI_STACK": "other", "PATH": "/bin", "PYTHONHOME": "/x"}
    plain = pack_environment(ResourceGraph("p", "s"), PackPython(sys.executable, None, ""), base=base)
    # No config: the language host leaves PULUMI_CONFIG out rather than sending "{}".
    assert "PULUMI_CONFIG" not in plain and plain["PULUMI_STACK"] == "s" and plain["PYTHONHOME"] == "/x"
    venv = tmp_path / "venv"
    activated = pack_environment(ResourceGraph("p", "s"), PackPython("python", venv, ""), base=base)
    assert activated["PATH"] == f"{venv}/bin{os.pathsep}/bin" and activated["VIRTUAL_ENV"] == str(venv)
    assert "PYTHONHOME" not in activated


def test_resources_read_with_get_are_not_analyzed(calls):
    graph = make_graph()
    read = f"{PREFIX}test:index:Bucket::existing"
    graph.resources.append(
        ResourceNode(read, "test:index:Bucket", "existing", True, {}, {"versioning": False}, external=True)
    )
    with AnalyzerSession.start(RECORDER, graph) as session:
        session.run()
    assert read not in [c["request"]["urn"] for c in calls() if c["call"] in ("Analyze", "Remediate")]
    stack_call = next(c["request"] for c in calls() if c["call"] == "AnalyzeStack")
    assert read not in [r["urn"] for r in stack_call["resources"]]


# --- the engine's rhythm: the pack started before the graph exists, resources analyzed as registered ------


def stack_only() -> ResourceGraph:
    """What is known before the program runs: the stack's identity and config, no resources."""
    g = make_graph()
    return ResourceGraph(project=g.project, stack=g.stack, config=dict(g.config), secret_keys=list(g.secret_keys))


def test_pack_launched_before_the_graph_exists_gets_the_same_calls(calls):
    _, expected_diagnostics = run_recorder()
    expected = [c for c in calls() if c["call"] != "start"]
    Path(os.environ["GOLIVE_TEST_CALLS"]).unlink()

    with AnalyzerSession.launch(RECORDER, stack_only()) as session:
        assert session.info is None  # launch does not wait for the pack
        session.connect()
        assert session.info is not None and session.calls == ["Handshake", "ConfigureStack", "GetAnalyzerInfo"]
        diagnostics = session.run(graph=make_graph())
    assert [c for c in calls() if c["call"] != "start"] == expected
    assert diagnostics == expected_diagnostics
    start = next(c for c in calls() if c["call"] == "start")
    assert start["env"]["PULUMI_STACK"] == "dev" and start["app_name"] == "demo"


def test_resources_analyzed_as_registered_then_finished_match_a_whole_run(calls):
    _, expected_diagnostics = run_recorder()
    expected = [c for c in calls() if c["call"] != "start"]
    Path(os.environ["GOLIVE_TEST_CALLS"]).unlink()

    graph = make_graph()
    with AnalyzerSession.launch(RECORDER, stack_only()) as session:
        session.configure()
        registered: dict[str, ResourceNode] = {}
        for node in graph.resources[:4]:  # the program is still running: part of the graph exists
            registered[node.urn] = node
            session.analyze(node, registered)
        session.analyze(graph.resources[0], registered)  # a second time: ignored
        diagnostics = session.finish(graph)
    assert [c for c in calls() if c["call"] != "start"] == expected
    assert diagnostics == expected_diagnostics
    with pytest.raises(RuntimeError):
        session.finish(graph)


def test_a_graph_of_another_stack_is_refused():
    other = stack_only()
    other.config["app:name"] = "other"
    with AnalyzerSession.launch(RECORDER, other) as session:
        session.configure()
        with pytest.raises(ValueError, match="not of the stack the pack was started for"):
            session.finish(make_graph())


def test_analyze_needs_a_configured_session():
    with AnalyzerSession.launch(RECORDER, stack_only()) as session:
        with pytest.raises(RuntimeError, match="configured"):
            session.analyze(make_graph().resources[0], {})


def test_launched_pack_that_dies_is_reported_at_connect(tmp_path):
    started = time.monotonic()
    session = AnalyzerSession.launch(PACKS / "crash", stack_only(), start_timeout=20)
    with session, pytest.raises(PackError, match="exited before printing its port"):
        session.connect()
    assert time.monotonic() - started < 15


def test_pack_that_dies_after_printing_its_port_fails_handshake_at_once(tmp_path):
    pack = tmp_path / "quitter"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (pack / "__main__.py").write_text(
        "import os, sys\nprint(40404, flush=True)\nsys.stderr.write('bye\\n')\nos._exit(5)\n"
    )
    started = time.monotonic()
    with pytest.raises(PackError, match=r"exited \(status 5\) during Handshake") as err:
        AnalyzerSession.start(pack, stack_only(), call_timeout=60)
    assert "bye" in str(err.value)
    assert time.monotonic() - started < 10  # not the 60 s call deadline


def test_close_ends_the_pack_at_once(calls):
    session, _ = run_recorder()  # run_recorder's context manager has closed it
    assert gone(session.pid, wait=0.5)
    with AnalyzerSession.start(RECORDER, make_graph()) as session:
        session.run()
        started = time.monotonic()
        session.close()
        assert time.monotonic() - started < 0.15  # no wait on the channel's connectivity watch
        assert gone(session.pid, wait=0.5)


class _EveryCall(AnalyzerSession):
    """The engine's behaviour: Remediate and Analyze for every resource, whatever the pack declares."""

    def configure(self, policy_config=None):
        super().configure(policy_config)
        self._per_resource = True


def test_a_pack_of_stack_policies_only_gets_no_per_resource_calls_and_the_same_findings():
    from golive.packfolder import PACK_DIR
    from golive.preview.program import run_program

    graph = run_program(ROOT / "bench" / "program", "production", timeout=60)
    results = []
    for session_class in (AnalyzerSession, _EveryCall):
        with session_class.start(PACK_DIR, graph) as session:
            assert {p.policy_type for p in session.info.policies} == {"stack"}
            diagnostics = session.run(policyconfig.reconcile(session.info, None, source="test"))
            results.append((diagnostics, [c for c in session.calls if c in ("Remediate", "Analyze")]))
    (skipped, skipped_calls), (engine, engine_calls) = results
    assert skipped_calls == [] and len(engine_calls) == 2 * len(graph.resources)
    assert skipped == engine and any(d.phase == "analyzeStack" for d in skipped)


def test_a_pack_with_resource_policies_is_called_for_every_resource(calls):
    session, _ = run_recorder()
    assert {p.policy_type for p in session.info.policies} == {"resource", "stack"}
    assert session.calls.count("Analyze") == session.calls.count("Remediate") == len(make_graph().resources)
