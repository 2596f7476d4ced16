"""golive.preview.project reads Pulumi.yaml and Pulumi.<stack>.yaml as the Pulumi CLI does."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from golive.errors import GoliveError
from golive.preview.project import (
    SECRET_PLACEHOLDER,
    ProjectError,
    config_lines,
    go_json,
    load_project,
    load_stack_config,
    program_python,
)


def make(tmp_path: Path, project: str = "name: demo\nruntime: python\n", **stacks: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(project)
    for stack, text in stacks.items():
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
    return tmp_path


def config(tmp_path: Path, text: str, overrides=(), project: str = "name: demo\nruntime: python\n"):
    return load_stack_config(load_project(make(tmp_path, project, dev=text)), "dev", overrides)


def test_missing_pulumi_yaml_names_the_folder(tmp_path):
    with pytest.raises(ProjectError, match=f"^no Pulumi.yaml in {tmp_path}$"):
        load_project(tmp_path)
    assert issubclass(ProjectError, GoliveError)


def test_malformed_stack_yaml_names_the_file_and_line(tmp_path):
    folder = make(tmp_path, production="config:\n  demo:a: 1\n   bad: [\n")
    with pytest.raises(ProjectError, match=r"^Pulumi\.production\.yaml: malformed YAML at line \d+"):
        load_stack_config(load_project(folder), "production")


def test_a_key_given_twice_is_an_error(tmp_path):
    twice = r"Pulumi\.dev\.yaml: malformed YAML at line 3: key 'demo:a' is given twice"
    with pytest.raises(ProjectError, match=twice):
        config(tmp_path, "config:\n  demo:a: 1\n  demo:a: 2\n")


def test_missing_stack_file_is_empty_config_as_for_a_new_stack(tmp_path):
    project = load_project(make(tmp_path, staging="config: {}\n"))
    missing = load_stack_config(project, "prod")
    assert missing.values == {} and missing.file is None
    assert missing.missing == f"no Pulumi.prod.yaml in {tmp_path} (stack files here: staging)"
    assert load_stack_config(project, "staging").missing == ""


def test_config_lines_name_each_key_and_value_inside(tmp_path):
    cfg = config(tmp_path, "config:\n  aws:region: us-east-1\n  limits:\n    days: 90\n    hosts:\n"
                           "      - a.example.com\n  demo:config:legacy: x\n  demo:key:\n    secure: AAAB\n",
                 overrides=["demo:limits={}"])
    assert cfg.overridden == ("demo:limits",)
    assert config_lines(cfg.file, "demo") == {
        "aws:region": 2, "demo:limits": 3, "demo:limits.days": 4, "demo:limits.hosts": 5,
        "demo:limits.hosts[0]": 6, "demo:legacy": 7, "demo:key": 8, "demo:key.secure": 9}
    assert config_lines(tmp_path / "Pulumi.none.yaml", "demo") == {}


def test_required_stack_file_lists_the_stacks_present(tmp_path):
    project = load_project(make(tmp_path, staging="config: {}\n", production="config: {}\n"))
    listed = r"^no Pulumi\.prod\.yaml in .* \(stack files here: production, staging\)$"
    with pytest.raises(ProjectError, match=listed):
        load_stack_config(project, "prod", require_file=True)


@pytest.mark.parametrize("runtime", ["python", "{name: python, options: {virtualenv: venv, toolchain: pip}}"])
def test_runtime_as_string_or_object(tmp_path, runtime):
    project = load_project(make(tmp_path, f"name: demo\nruntime: {runtime}\nunknownKey: 1\n"))
    assert project.name == "demo" and project.runtime == "python"
    assert project.pwd == tmp_path.resolve() and project.entry == "."


def test_unsupported_runtime_and_missing_name(tmp_path):
    with pytest.raises(ProjectError, match=r"^Pulumi\.yaml: runtime 'nodejs' is not supported"):
        load_project(make(tmp_path, "name: demo\nruntime: nodejs\n"))
    with pytest.raises(ProjectError, match=r"^Pulumi\.yaml: 'name' is missing"):
        load_project(make(tmp_path, "runtime: python\n"))


def test_main_as_folder_or_file(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("")
    project = load_project(make(tmp_path, "name: demo\nruntime: python\nmain: src/\n"))
    assert (project.pwd, project.entry) == (tmp_path.resolve() / "src", ".")
    project = load_project(make(tmp_path, "name: demo\nruntime: python\nmain: src/app.py\n"))
    assert (project.pwd, project.entry) == (tmp_path.resolve() / "src", "app.py")
    assert project.program == tmp_path.resolve() / "src" / "app.py"
    with pytest.raises(ProjectError, match=r"^Pulumi\.yaml: 'main' 'nowhere' does not exist"):
        load_project(make(tmp_path, "name: demo\nruntime: python\nmain: nowhere\n"))


def test_values_reach_the_program_as_the_cli_passes_them(tmp_path):
    cfg = config(tmp_path, (
        "config:\n"
        "  aws:region: us-east-1\n"
        "  demo:enabled: true\n"
        "  demo:answer: yes\n"
        "  demo:days: 90\n"
        "  demo:ratio: 1.5\n"
        "  demo:whole: 2.0\n"
        "  demo:date: 2024-01-02\n"
        "  owner: platform\n"
        "  aws:config:profile: legacy\n"
        "  demo:dmarc:\n"
        "    rua: [dmarc@example.com]\n"
        "    policy: quarantine\n"
        "    note: <b>&</b>\n"
        "  demo:list: [1, two]\n"
    ))
    assert cfg.values == {
        "aws:region": "us-east-1",
        "demo:enabled": "true",
        "demo:answer": "yes",  # YAML 1.2 as Go reads it: only true/false are booleans
        "demo:days": "90",
        "demo:ratio": "1.5",
        "demo:whole": "2",
        "demo:date": "2024-01-02",
        "demo:owner": "platform",
        "aws:profile": "legacy",
        "demo:dmarc": ('{"note":"\\u003cb\\u003e\\u0026\\u003c/b\\u003e",'
                       '"policy":"quarantine","rua":["dmarc@example.com"]}'),
        "demo:list": '[1,"two"]',
    }
    assert cfg.secret_keys == [] and cfg.stack == "dev" and cfg.organization == "organization"
    assert json.loads(cfg.values["demo:dmarc"])["note"] == "<b>&</b>"


def test_secure_values_become_a_marked_placeholder(tmp_path):
    cfg = config(tmp_path, (
        "config:\n"
        "  demo:apiKey:\n"
        "    secure: AAABAHc2dGVzdA==\n"
        "  demo:nested:\n"
        "    user: admin\n"
        "    password:\n"
        "      secure: AAABAHBhc3M=\n"
    ))
    assert cfg.values["demo:apiKey"] == SECRET_PLACEHOLDER
    assert json.loads(cfg.values["demo:nested"]) == {"user": "admin", "password": SECRET_PLACEHOLDER}
    assert cfg.secret_keys == ["demo:apiKey", "demo:nested"]


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _passphrase_stack(phrase: str, *, provider: str = "") -> str:
    from golive.preview.passphrase import encrypt_for_tests

    salt, (key, password) = encrypt_for_tests(phrase, ["tk-0123456789", "hunter2"])
    return (f"{provider}encryptionsalt: {salt}\n"
            "config:\n"
            f"  demo:apiKey:\n    secure: {key}\n"
            f"  demo:nested:\n    user: admin\n    password:\n      secure: {password}\n")


def test_passphrase_secrets_are_decrypted_as_the_cli_does(tmp_path, monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "s3cret phrase")
    cfg = config(tmp_path, _passphrase_stack("s3cret phrase"))
    assert cfg.values["demo:apiKey"] == "tk-0123456789"
    assert json.loads(cfg.values["demo:nested"]) == {"user": "admin", "password": "hunter2"}
    assert cfg.secret_keys == ["demo:apiKey", "demo:nested"]


def test_passphrase_file_and_missing_passphrase(tmp_path, monkeypatch):
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    text = _passphrase_stack("from a file")
    assert config(_folder(tmp_path / "a"), text).values["demo:apiKey"] == SECRET_PLACEHOLDER  # nothing to decrypt with
    (tmp_path / "phrase").write_text("from a file\n")
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE_FILE", str(tmp_path / "phrase"))
    assert config(_folder(tmp_path / "b"), text).values["demo:apiKey"] == "tk-0123456789"


def test_wrong_passphrase_or_a_cloud_provider(tmp_path, monkeypatch):
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "wrong")
    with pytest.raises(GoliveError, match=r"^Pulumi.dev.yaml: incorrect passphrase") as raised:
        config(_folder(tmp_path / "a"), _passphrase_stack("right"))
    assert "wrong" not in str(raised.value)
    # A stack on another secrets provider keeps its salt from an earlier provider; golive cannot decrypt.
    cloud = config(_folder(tmp_path / "b"), _passphrase_stack("right", provider="secretsprovider: awskms://alias/x\n"))
    assert cloud.values["demo:apiKey"] == SECRET_PLACEHOLDER


def test_overrides_bare_or_namespaced_and_plain(tmp_path):
    cfg = config(tmp_path, "config:\n  demo:apiKey:\n    secure: AAAB\n  demo:a: x\n",
                 overrides=["a=from-cli", "demo:apiKey=plain", "aws:region=eu-west-1", "demo:eq=a=b"])
    assert cfg.values["demo:a"] == "from-cli"
    assert cfg.values["demo:apiKey"] == "plain" and cfg.secret_keys == []
    assert cfg.values["aws:region"] == "eu-west-1" and cfg.values["demo:eq"] == "a=b"
    with pytest.raises(ProjectError, match=r"^--config: expected KEY=VALUE") as raised:
        config(tmp_path, "config: {}\n", overrides=["novalue"])
    assert "novalue" not in str(raised.value)


def test_bad_keys_name_the_file_and_key(tmp_path):
    with pytest.raises(ProjectError, match=r"^Pulumi\.dev\.yaml: config key 'a:b:c' is not of the form"):
        config(tmp_path, "config:\n  a:b:c: 1\n")
    with pytest.raises(ProjectError, match=r"^Pulumi\.dev\.yaml: config key 'demo:x' is given twice$"):
        config(tmp_path, "config:\n  x: 1\n  demo:x: 2\n")


def test_project_config_defaults_requirements_and_types(tmp_path):
    project = (
        "name: demo\nruntime: python\nconfig:\n"
        "  size: {type: integer, default: 3}\n"
        "  region: us-west-2\n"
        "  aws:region: eu-north-1\n"
        "  token: {type: string, secret: true}\n"
        "  tags: {type: array, items: {type: string}, default: [a, b]}\n"
    )
    cfg = config(tmp_path, "config:\n  demo:token:\n    secure: AAAB\n", project=project)
    assert cfg.values["demo:size"] == "3" and cfg.values["demo:region"] == "us-west-2"
    assert cfg.values["aws:region"] == "eu-north-1" and cfg.values["demo:tags"] == '["a","b"]'

    with pytest.raises(ProjectError, match=r"stack 'dev' is missing configuration value 'token' required by"):
        config(tmp_path, "config: {}\n", project=project)
    typed = r"^Pulumi\.dev\.yaml: config key 'demo:size' must be of type 'integer'$"
    with pytest.raises(ProjectError, match=typed):
        config(tmp_path, "config:\n  demo:size: big\n  demo:token:\n    secure: AAAB\n", project=project)
    with pytest.raises(ProjectError, match=r"^Pulumi\.dev\.yaml: config key 'demo:token' must be encrypted"):
        config(tmp_path, "config:\n  demo:token: plain\n", project=project)


def test_qualified_stack_names(tmp_path):
    project = load_project(make(tmp_path, prod="config:\n  demo:a: 1\n"))
    cfg = load_stack_config(project, "acme/demo/prod")
    assert (cfg.organization, cfg.stack, cfg.values) == ("acme", "prod", {"demo:a": "1"})


def test_program_python_prefers_the_project_virtualenv(tmp_path):
    text = "name: demo\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n"
    project = load_project(make(tmp_path, text))
    assert program_python(project) == sys.executable  # venv does not exist yet
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    python = tmp_path / "venv" / "bin" / "python"
    python.symlink_to(sys.executable)
    assert program_python(project) == str(python)
    assert os.access(program_python(project), os.X_OK)


def test_go_json_matches_go_encoding():
    expected = '{"a":["\\u003c\\u0026\\u003e",true,null,1.5],"b":1}'
    assert go_json({"b": 1, "a": ["<&>", True, None, 1.5]}) == expected
    assert go_json({"k": "é"}) == '{"k":"é"}'
