"""Malformed and hostile input to every file and argument golive reads: one line naming the file or key,
exit status 2, never a traceback, a hang or an echoed value; and input that is well formed but wrong
(a mistyped pack config key, a plaintext value beside a secret one) never turns a finding into a pass.

golive's commands run in-process (`cli.main`), with the real pack over gRPC where one runs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from checklist import catalog
from golive import cli
from golive.analysis import policyconfig
from golive.analysis.analyzer import AnalyzerSession
from golive.analysis.packprocess import PackError
from golive.errors import GoliveError
from golive.packfolder import PACK_DIR
from golive.preview.graph import ResourceGraph
from golive.preview.project import ProjectError, load_project, load_stack_config

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / "tests" / "fixtures" / "state" / "shop-production.json"
ROTATION = "customerio-secret-rotation"
DISTINCT = "customerio-production-keys-distinct"
PLAIN_KEY = "0123456789abcdef0123456789abcdef"


def project(tmp_path: Path, stack_yaml: str = "config: {}\n", *, pulumi_yaml: str = "name: demo\nruntime: python\n",
            program: str = "import pulumi\n") -> Path:
    """A project folder whose program registers nothing, with a `production` stack file."""
    folder = tmp_path / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Pulumi.yaml").write_text(pulumi_yaml)
    (folder / "__main__.py").write_text(program)
    (folder / "Pulumi.production.yaml").write_text(stack_yaml)
    return folder


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *argv: str, naming: str | tuple[str, ...]) -> str:
    """Run golive; assert exit 2 with one line on standard error naming each of `naming`."""
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    [line] = err.splitlines()
    assert line.startswith("golive: error: ")
    for name in (naming,) if isinstance(naming, str) else naming:
        assert name in line
    return line


def laughs(levels: int, fanout: int = 10) -> str:
    """YAML "billion laughs": each anchor a list of `fanout` aliases of the one before."""
    lines = [f"    l0: &l0 [{', '.join(['lol'] * fanout)}]"]
    lines += [f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fanout)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def pack_config(tmp_path: Path, data: object, name: str = "policy-config.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


# --- A. YAML aliases: bounded as yaml.v3 (the Pulumi CLI's YAML library) bounds them ---------------------

def test_an_alias_bomb_in_the_stack_file_is_refused_as_yaml_v3_refuses_it(tmp_path, capsys):
    # 10^5 list items from a 600-byte file: old golive wrote them all out as the config's JSON (a 1 KB
    # file of 9 levels grew past 1 GB); yaml.v3 refuses it, since nearly all of it is alias expansion.
    folder = project(tmp_path, "config:\n  demo:laughs:\n" + laughs(5))
    line = refused(capsys, "check", str(folder), "--stack", "production", naming="Pulumi.production.yaml")
    assert "document contains excessive aliasing" in line


def test_a_one_kilobyte_billion_laughs_is_refused_at_once():
    bomb = "config:\n  demo:laughs:\n" + laughs(9, 9)
    assert len(bomb) < 1024
    from golive import loading
    with pytest.raises(GoliveError, match=r"^Pulumi\.dev\.yaml: malformed YAML at line \d+: document contains "
                                          r"excessive aliasing$"):
        loading.parse_yaml(bomb, "Pulumi.dev.yaml")


@pytest.mark.parametrize("text", ["config:\n  demo:x: &a [*a]\n", "config:\n  demo:x: &a {b: *a}\n",
                                  "config:\n  demo:x: &a [1, [2, *a]]\n"])
def test_an_anchor_that_contains_itself_is_refused(tmp_path, capsys, text):
    folder = project(tmp_path, text)
    line = refused(capsys, "check", str(folder), "--stack", "production", naming="Pulumi.production.yaml")
    assert "value contains itself" in line


def test_aliases_within_the_bound_are_read_as_yaml_v3_reads_them(tmp_path):
    folder = project(tmp_path, "config:\n  demo:base: &b {region: eu, size: 2}\n  demo:copy: *b\n"
                               "  demo:merged:\n    <<: *b\n    size: 3\n  demo:small:\n" + laughs(2))
    values = load_stack_config(load_project(folder), "production").values
    assert json.loads(values["demo:copy"]) == json.loads(values["demo:base"]) == {"region": "eu", "size": 2}
    assert json.loads(values["demo:merged"]) == {"region": "eu", "size": 3}
    assert len(json.loads(values["demo:small"])["l2"]) == 10


def test_every_yaml_file_goes_through_the_one_bounded_loader(tmp_path, capsys):
    recursive = "x: &a [*a]\n"
    folder = project(tmp_path, pulumi_yaml="name: demo\nruntime: python\nextra: &a [*a]\n")
    refused(capsys, "check", str(folder), "--stack", "production", naming=("Pulumi.yaml", "contains itself"))
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "PulumiPolicy.yaml").write_text("runtime: python\n" + recursive)
    folder = project(tmp_path / "other")
    refused(capsys, "check", str(folder), "--stack", "production", "--policy-pack", str(pack),
            naming=("PulumiPolicy.yaml", "contains itself"))
    (tmp_path / "invokes.yaml").write_text("aws:x/getY:getY:\n" + laughs(5).replace("    ", "  "))
    refused(capsys, "check", str(folder), "--stack", "production", "--invoke-results",
            str(tmp_path / "invokes.yaml"), naming=("invokes.yaml", "excessive aliasing"))


# --- B. `main` stays inside the project -----------------------------------------------------------------

@pytest.mark.parametrize("main", ["/etc/passwd", "../other", "../other/app.py", "src/../../other", "escape"])
def test_main_outside_the_project_is_refused(tmp_path, capsys, main):
    other = tmp_path / "other"
    other.mkdir()
    (other / "app.py").write_text("print('not this project')\n")
    folder = project(tmp_path, pulumi_yaml=f"name: demo\nruntime: python\nmain: {main}\n")
    (folder / "src").mkdir()
    (folder / "escape").symlink_to(other)
    with pytest.raises(ProjectError, match=r"^Pulumi\.yaml: 'main' "):
        load_project(folder)
    refused(capsys, "check", str(folder), "--stack", "production", naming=("Pulumi.yaml", "'main'"))


def test_main_inside_the_project_through_a_link_inside_it_is_run(tmp_path):
    folder = project(tmp_path, pulumi_yaml="name: demo\nruntime: python\nmain: link/app.py\n")
    (folder / "src").mkdir()
    (folder / "src" / "app.py").write_text("import pulumi\n")
    (folder / "link").symlink_to(folder / "src")
    assert load_project(folder).program == folder / "link" / "app.py"


# --- C. every policy's config schema is closed and bounded ------------------------------------------------

@pytest.mark.parametrize(("config", "key"), [
    ({DISTINCT: {"nonProductionFingerprints": {"track_api_key": ["sha256:0123456789abcdef"]}}}, "track_api_key"),
    ({ROTATION: {"maxDayz": 30}}, "maxDayz"),
    ({ROTATION: {"maxDays": 0}}, "maxDays"),
    ({ROTATION: {"maxDays": 3651}}, "maxDays"),
    ({ROTATION: {"maxDays": int("9" * 4000)}}, "maxDays"),
    ({"email-dkim-record": {"minKeyBits": int("9" * 4000)}}, "minKeyBits"),
    ({"monitoring-alarm-thresholds": {"thresholds": {"bounce_rate": 10**300}}}, "bounce_rate"),
    ({"customerio-region": {"region": "mars"}}, "region"),
])
def test_a_mistyped_unknown_or_out_of_bounds_setting_is_refused(tmp_path, capsys, config, key):
    path = pack_config(tmp_path, config)
    folder = project(tmp_path)
    line = refused(capsys, "check", str(folder), "--stack", "production", "--policy-pack-config", path,
                   naming=(path, key))
    assert "9999" not in line  # names the key, never the value


def test_settings_within_the_bounds_are_accepted(tmp_path):
    info = _catalog_info()
    for config in ({ROTATION: {"maxDays": 1}}, {ROTATION: {"maxDays": 3650}}, {ROTATION: {"maxDays": 30.5}},
                   {DISTINCT: {"nonProductionFingerprints": {"any": [], "site-id": ["sha256:0123456789abcdef"]}}}):
        assert policyconfig.reconcile(info, policyconfig.parse(config))


def _catalog_info():
    from golive.adoption.waivers import catalog_info

    return catalog_info()


def test_the_engine_refuses_a_mistyped_kind_by_the_schema_the_pack_declares():
    # The engine (gojsonschema) validates each declared property against its schema as given.
    schema = catalog.POLICY_BY_NAME[DISTINCT].schema()["nonProductionFingerprints"]
    jsonschema.Draft4Validator.check_schema(schema)
    with pytest.raises(jsonschema.ValidationError, match="track_api_key"):
        jsonschema.Draft4Validator(schema).validate({"track_api_key": ["sha256:0123456789abcdef"]})
    for spec in catalog.POLICIES:
        for name, prop in spec.schema().items():
            if prop.get("type") in ("number", "integer"):
                assert "minimum" in prop and "maximum" in prop, (spec.name, name)
            if prop.get("type") == "object":
                assert prop.get("additionalProperties") is False, (spec.name, name)


def test_the_pack_refuses_a_property_its_policy_does_not_have_under_the_engine():
    # The engine cannot close a policy's schema (it sends only `properties` and `required`), so under
    # `pulumi preview` the pack's Configure refuses `maxDayz`: here over real gRPC, as the engine calls it.
    graph = ResourceGraph(project="p", stack="production")
    with AnalyzerSession.start(PACK_DIR, graph) as session:
        config = policyconfig.reconcile(session.info, None)
        config[ROTATION] = policyconfig.PolicyConfig("mandatory", {**config[ROTATION].properties, "maxDayz": 30})
        with pytest.raises(PackError, match=rf"Configure.*{ROTATION}: 'maxDayz' is not one of its properties"):
            session.run(config)


# --- D. each config value judged by its own secrecy -------------------------------------------------------

SIBLING = "config:\n  demo:app:\n    customerioApiKey: {key}\n    other:\n      secure: AAAA\n"


def test_a_plaintext_key_beside_a_secure_value_is_still_found(tmp_path, capsys):
    folder = project(tmp_path, SIBLING.format(key=PLAIN_KEY))
    code, out, err = run(capsys, "check", str(folder), "--stack", "production")
    assert code == 1, err
    assert "Stack config key 'demo:app.customerioApiKey' is plaintext" in out
    assert "demo:app.other" not in out
    assert PLAIN_KEY not in out


def test_a_secure_value_inside_an_object_is_secret_and_its_siblings_are_not(tmp_path):
    folder = project(tmp_path, SIBLING.format(key="plain") + "  demo:list: [a, {secure: BBBB}]\n"
                     "  demo:whole:\n    secure: CCCC\n")
    config = load_stack_config(load_project(folder), "production")
    assert config.secret_keys == ["demo:app", "demo:list", "demo:whole"]
    assert config.secret_paths == ("demo:app.other", "demo:list[1]")
    overridden = load_stack_config(load_project(folder), "production", ["demo:app={}"])
    assert overridden.secret_paths == ("demo:list[1]",)


def test_a_key_that_is_secret_as_a_whole_stays_hidden(tmp_path, capsys):
    folder = project(tmp_path, "config:\n  demo:app:\n    secure: AAAA\n")
    code, out, err = run(capsys, "check", str(folder), "--stack", "production")
    assert code in (0, 1) and "plaintext" not in out, err


# --- E. one line and exit 2 for every malformed file and argument ----------------------------------------

DEEP_JSON = "[" * 5000 + "]" * 5000
DEEP_YAML = "x: " + "[" * 5000 + "]" * 5000 + "\n"
HUGE = "1" * 5000


def test_nesting_5000_deep_in_each_file(tmp_path, capsys):
    folder = project(tmp_path, pulumi_yaml="name: demo\nruntime: python\nx: " + "[" * 5000 + "\n")
    refused(capsys, "check", str(folder), "--stack", "production", naming=("Pulumi.yaml", "nested"))
    folder = project(tmp_path / "b", "config:\n  demo:" + DEEP_YAML)
    refused(capsys, "check", str(folder), "--stack", "production", naming=("Pulumi.production.yaml", "nested"))
    deep = pack_config(tmp_path, '{"all": ' + DEEP_JSON + "}")
    refused(capsys, "check", str(folder), "--stack", "production", "--policy-pack-config", deep,
            naming=(deep, "nested"))
    refused(capsys, "waivers", "list", "--policy-pack-config", deep, naming=(deep, "nested"))
    refused(capsys, "waivers", "add", ROTATION, "--reason", "r", "--owner", "o", "--expires", "2099-01-01",
            "--policy-pack-config", deep, naming=(deep, "nested"))
    baseline = pack_config(tmp_path, DEEP_JSON, "baseline.json")
    refused(capsys, "check", "--state", str(STATE), "--baseline", baseline, naming=(baseline, "nested"))
    state = pack_config(tmp_path, '{"version": 3, "deployment": ' + DEEP_JSON + "}", "state.json")
    refused(capsys, "check", "--state", state, naming=(state, "nested"))


def test_integers_past_the_conversion_limit(tmp_path, capsys):
    folder = project(tmp_path, f"config:\n  demo:n: {HUGE}\n")
    refused(capsys, "check", str(folder), "--stack", "production", naming=("Pulumi.production.yaml", "digits"))
    state = pack_config(tmp_path, '{"version": 3, "deployment": {"n": ' + HUGE + "}}", "state.json")
    refused(capsys, "check", "--state", state, naming=(state, "digits"))
    config = pack_config(tmp_path, '{"' + ROTATION + '": {"maxDays": ' + HUGE + "}}")
    refused(capsys, "check", str(folder), "--stack", "production", "--policy-pack-config", config,
            naming=(config, "digits"))


def test_a_pack_config_that_is_not_utf8(tmp_path, capsys):
    path = tmp_path / "policy-config.json"
    path.write_bytes(b'{"all": "advisory\xff"}')
    folder = project(tmp_path)
    refused(capsys, "check", str(folder), "--stack", "production", "--policy-pack-config", str(path),
            naming=(str(path), "UTF-8"))
    refused(capsys, "waivers", "list", "--policy-pack-config", str(path), naming=(str(path), "UTF-8"))


def test_a_lone_surrogate_in_stack_config_or_state(tmp_path, capsys):
    folder = project(tmp_path, 'config:\n  demo:name: "a\\ud800b"\n')
    refused(capsys, "check", str(folder), "--stack", "production", naming=("Pulumi.production.yaml", "demo:name",
                                                                            "surrogate"))
    data = json.loads(STATE.read_text())
    data["deployment"]["resources"][0]["outputs"] = {"bad": "\ud800"}
    state = tmp_path / "state.json"
    state.write_text(json.dumps(data))  # ensure_ascii: the escape `\ud800`, as Go would never write it
    refused(capsys, "check", "--state", str(state), naming=(str(state), "surrogate"))


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_nan_and_infinity_in_a_pack_config_are_refused_naming_the_file(tmp_path, capsys, value):
    path = pack_config(tmp_path, '{"' + ROTATION + '": {"maxDays": ' + value + "}}")
    folder = project(tmp_path)
    line = refused(capsys, "check", str(folder), "--stack", "production", "--policy-pack-config", path,
                   naming=path)
    assert "pack" not in line.removeprefix(f"golive: error: {path}")  # the file is at fault, not the pack
    before = Path(path).read_text()
    refused(capsys, "waivers", "add", ROTATION, "--reason", "r", "--owner", "o", "--expires", "2099-01-01",
            "--policy-pack-config", path, naming=path)
    assert Path(path).read_text() == before


@pytest.mark.parametrize("argv", [
    ["check", ".", "--stack", "production", "--timeout", "{}"],
    ["waivers", "check", "--stack", "production", "--timeout", "{}"],
    ["credentials", "put", "track-api-key", "--timeout", "{}"],
    ["rollout", "status", "--stack", "production", "--timeout", "{}"],
    ["audit", "--stack", "production", "--timeout", "{}"],
])
@pytest.mark.parametrize("value", ["inf", "-5", "nan", "0", "soon"])
def test_a_timeout_that_is_not_a_finite_positive_number_is_refused_at_parse_time(capsys, argv, value):
    with pytest.raises(SystemExit) as exited:
        cli.main([a.format(value) for a in argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    [line] = err.splitlines()  # one line, as for every other bad input: no usage block above it
    assert f"argument --timeout: '{value}'" in line


@pytest.mark.parametrize("argv", [
    ["rollout", "status", "--stack", "production"],
    ["credentials", "put", "track-api-key"],
    ["fingerprints", "--stack", "staging"],
    ["audit", "--stack", "production"],
])
@pytest.mark.parametrize("url", ["not a url", "ftp://host", "http://", "localhost:4566", "http://h:port"])
def test_an_aws_endpoint_that_is_not_a_url_is_refused_at_parse_time(capsys, argv, url):
    with pytest.raises(SystemExit) as exited:
        cli.main([*argv, "--aws-endpoint", url])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    [line] = err.splitlines()
    assert f"argument --aws-endpoint: '{url}' is not an http:// or https:// URL" in line


# --- F. a --config value is never echoed -------------------------------------------------------------------

@pytest.mark.parametrize("item", ["golive::trackApiKey=SECRETVALUE", "SECRETVALUE", ":x=SECRETVALUE"])
@pytest.mark.parametrize("state", [False, True])
def test_a_malformed_config_override_never_echoes_its_value(tmp_path, capsys, item, state):
    folder = project(tmp_path)
    argv = ["check", "--state", str(STATE)] if state else ["check", str(folder), "--stack", "production"]
    line = refused(capsys, *argv, "--config", item, naming="--config")
    assert "SECRETVALUE" not in line



def test_loading_checks_run_iteratively_at_any_depth():
    deep: list = []
    for _ in range(50_000):
        deep = [deep]
    from golive import loading
    with pytest.raises(GoliveError, match="nested more than 100 deep"):
        loading.check_tree(deep, "f.json")
