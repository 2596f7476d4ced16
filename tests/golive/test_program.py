"""golive.preview.program runs real Pulumi programs offline against golive's own ResourceMonitor and Engine.

Each fixture program in tests/fixtures/programs is run once per module (a run costs about a second)
and the tests read the resource graph it produced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pulumi_aws
import pytest

from golive.preview import _exec, deployment, durations, program, services, urns, versions, wire
from golive.preview.graph import ResourceGraph, ResourceNode, SourcePosition
from golive.preview.invoke_results import InvokeResultsError, load_invoke_results
from golive.preview.invokes import OfflineProviders
from golive.preview.program import REPO_ROOT, ProgramError, run_program
from golive.preview.project import SECRET_PLACEHOLDER
from golive.preview.urns import STACK_TYPE

PROGRAMS = Path(__file__).resolve().parent.parent / "fixtures" / "programs"
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIG = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
AWS_VERSION = pulumi_aws._utilities.get_version()


def secret(value):
    return {SIG: SECRET_SIG, "value": value}


def node(graph: ResourceGraph, name: str, type_suffix: str = "") -> ResourceNode:
    found = [r for r in graph.resources if r.name == name and r.type.endswith(type_suffix)]
    assert len(found) == 1, [r.urn for r in graph.resources]
    return found[0]


def line_of(path: Path, text: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


@pytest.fixture(scope="module")
def secrets_graph() -> ResourceGraph:
    return run_program(PROGRAMS / "secrets", "dev", timeout=60)


@pytest.fixture(scope="module")
def overridden_graph(tmp_path_factory) -> ResourceGraph:
    results = tmp_path_factory.mktemp("results") / "invokes.yaml"
    results.write_text(
        "aws:route53/getZone:getZone:\n"
        "  - args: {name: other.com}\n"
        "    result: {zoneId: ZWRONG}\n"
        "  - args: {name: example.com}\n"
        "    result: {zone_id: Z0123456789, name: example.com}\n"
        "aws:index/getCallerIdentity:getCallerIdentity:\n"
        "  accountId: '123456789012'\n"
    )
    return run_program(PROGRAMS / "secrets", "dev", invoke_results=results,
                       config_overrides=["owner=security-team", "secrets-demo:apiKey=not-secret-now"],
                       timeout=60)


@pytest.fixture(scope="module")
def webapp_graph() -> ResourceGraph:
    return run_program(PROGRAMS / "webapp", "prod", timeout=60)


# --- the secrets program ------------------------------------------------------------------------

def test_rotation_sees_the_secret_id_as_unknown_and_depends_on_the_secret(secrets_graph):
    secret_node = node(secrets_graph, "api-key", "Secret")
    rotation = node(secrets_graph, "api-key-rotation", "SecretRotation")
    assert rotation.inputs["secretId"] == UNKNOWN
    assert rotation.property_dependencies["secretId"] == [secret_node.urn]
    assert secret_node.urn in rotation.dependencies
    assert rotation.inputs["rotationRules"] == {"automaticallyAfterDays": 30}
    # A preview of a create: the id is unknown and computed outputs are unknown too.
    assert rotation.id == "" and secret_node.outputs["arn"] == UNKNOWN


def test_secret_values_reach_inputs_in_wire_secret_form(secrets_graph):
    version = node(secrets_graph, "api-key-value", "SecretVersion")
    # config.require_secret of a secure key
    assert version.inputs["secretString"] == secret(SECRET_PLACEHOLDER)
    rotation = node(secrets_graph, "api-key-rotation", "SecretRotation")
    lambda_arn = "arn:aws:lambda:eu-west-1:123456789012:function:rotate"
    assert rotation.inputs["rotationLambdaArn"] == secret(lambda_arn)
    assert "secretString" in version.options.additional_secret_outputs


def test_component_child_urn_and_parents(secrets_graph):
    stack_urn = "urn:pulumi:dev::secrets-demo::pulumi:pulumi:Stack::secrets-demo-dev"
    stack = node(secrets_graph, "secrets-demo-dev", STACK_TYPE)
    vault = node(secrets_graph, "vault", "demo:index:Vault")
    key = node(secrets_graph, "vault-key", "Key")
    assert stack.urn == stack_urn and stack.parent is None
    assert vault.urn == "urn:pulumi:dev::secrets-demo::demo:index:Vault::vault"
    assert vault.parent == stack_urn and not vault.custom
    assert key.urn == "urn:pulumi:dev::secrets-demo::demo:index:Vault$aws:kms/key:Key::vault-key"
    assert key.parent == vault.urn
    assert vault.outputs == {"keyArn": UNKNOWN}  # RegisterResourceOutputs
    assert set(stack.outputs) == {"secretArn", "firstZone"}
    assert not any("pulumi:pulumi:Stack$" in r.urn for r in secrets_graph.resources)


def test_options_and_source_positions(secrets_graph):
    main = PROGRAMS / "secrets" / "__main__.py"
    secret_node = node(secrets_graph, "api-key", "Secret")
    assert secret_node.options.ignore_changes == ["tags"]
    declared = line_of(main, "secret = aws.secretsmanager.Secret(")
    assert secret_node.source == SourcePosition("__main__.py", declared)
    key = node(secrets_graph, "vault-key", "Key")
    assert key.source == SourcePosition("__main__.py", line_of(main, "self.key = aws.kms.Key("))
    assert secrets_graph.program_dir == str(PROGRAMS / "secrets")


def test_default_provider_per_package_and_version(secrets_graph):
    providers = [r for r in secrets_graph.resources if r.type == "pulumi:providers:aws"]
    assert len(providers) == 1
    provider = providers[0]
    assert provider.name == "default_" + AWS_VERSION.replace(".", "_")
    assert provider.urn == f"urn:pulumi:dev::secrets-demo::pulumi:providers:aws::{provider.name}"
    assert provider.inputs == {"region": "eu-west-1", "version": AWS_VERSION, "__internal": {}}
    assert provider.parent is None and provider.id == UNKNOWN
    custom = [r for r in secrets_graph.resources if r.custom and r.type.startswith("aws:")]
    assert custom and all(r.provider == provider.urn for r in custom)
    order = [r.urn for r in secrets_graph.resources]
    assert order.index(provider.urn) < min(order.index(r.urn) for r in custom)
    assert all(r.provider is None for r in secrets_graph.resources if not r.custom)


def test_stack_config_as_the_program_receives_it(secrets_graph):
    assert secrets_graph.config == {
        "aws:region": "eu-west-1",
        "secrets-demo:environment": "dev",
        "secrets-demo:rotationDays": "30",
        "secrets-demo:enabled": "true",
        "secrets-demo:apiKey": SECRET_PLACEHOLDER,
        "secrets-demo:alerts": '{"emails":["oncall@example.com"],"threshold":5}',
        "secrets-demo:owner": "platform-team",
    }
    assert secrets_graph.secret_keys == ["secrets-demo:apiKey"]
    assert node(secrets_graph, "api-key", "Secret").inputs["tags"] == {"owner": "platform-team"}
    assert node(secrets_graph, "api-key", "Secret").inputs["name"] == "demo/dev/api-key"


def test_data_sources_answered_offline_with_their_declared_types(secrets_graph):
    record = node(secrets_graph, "txt", "Record")
    assert record.inputs["zoneId"] == "offline-zoneId"
    # get_zone(name=...) reports the name it was asked for
    assert record.inputs["name"] == "_demo.example.com"
    assert json.loads(record.inputs["records"][0]) == {
        "az": "eu-west-1a", "account": "000000000000", "alerts": "oncall@example.com"}
    assert [(i.token, i.answered) for i in secrets_graph.invokes] == [
        ("aws:index/getAvailabilityZones:getAvailabilityZones", "placeholder"),
        ("aws:route53/getZone:getZone", "placeholder"),
        ("aws:index/getCallerIdentity:getCallerIdentity", "placeholder"),
    ]
    stack = node(secrets_graph, "secrets-demo-dev", STACK_TYPE)
    assert stack.outputs["firstZone"] == "eu-west-1a"


def test_results_file_and_config_overrides_win(overridden_graph):
    record = node(overridden_graph, "txt", "Record")
    assert record.inputs["zoneId"] == "Z0123456789"  # python name in the file, matched on args
    assert json.loads(record.inputs["records"][0])["account"] == "123456789012"
    assert {i.token: i.answered for i in overridden_graph.invokes} == {
        "aws:index/getAvailabilityZones:getAvailabilityZones": "placeholder",
        "aws:route53/getZone:getZone": "results-file",
        "aws:index/getCallerIdentity:getCallerIdentity": "results-file",
    }
    assert node(overridden_graph, "api-key", "Secret").inputs["tags"] == {"owner": "security-team"}
    # config.require_secret still makes the value secret, but the key is no longer a secure one.
    version = node(overridden_graph, "api-key-value", "SecretVersion")
    assert version.inputs["secretString"] == secret("not-secret-now")
    assert overridden_graph.secret_keys == []


# --- main: src/, failures, hangs --------------------------------------------------------------------

def test_main_folder_is_the_program_and_its_working_directory():
    graph = run_program(PROGRAMS / "mainsrc", "test", timeout=60)
    topics = [r for r in graph.resources if r.type == "aws:sns/topic:Topic"]
    assert sorted(t.inputs["name"] for t in topics) == ["mainsrc-invoices", "mainsrc-orders"]
    outputs = node(graph, "mainsrc-test", STACK_TYPE).outputs
    src = str(PROGRAMS / "mainsrc" / "src")
    assert outputs["cwd"] == src and outputs["path0"] == src
    assert topics[0].source.file == "src/__main__.py"
    # golive itself was importable to start the program, but the program's path is its interpreter's
    # own: run_path's folder, then what that interpreter gives any script (a .pth of golive's editable
    # install included, as under the CLI) - and no trace of golive's bootstrap folder.
    plain = subprocess.run([sys.executable, "-c", "import json, os, sys; "
                            "print(json.dumps([os.path.abspath(p) for p in sys.path[1:] if p]))"],
                           cwd=src, capture_output=True, text=True, check=True, timeout=30)
    assert outputs["sysPath"][:2] == [src, src]
    assert outputs["sysPath"][2:] == json.loads(plain.stdout)
    assert not any("bootstrap" in p for p in outputs["sysPath"])
    assert outputs.get("pythonPath") == os.environ.get("PYTHONPATH")  # an unset value is not exported


def test_program_exception_becomes_one_line_and_the_users_traceback():
    with pytest.raises(ProgramError) as caught:
        run_program(PROGRAMS / "failing", "dev", timeout=60)
    text = str(caught.value)
    lines = text.splitlines()
    assert lines[0] == "program failed: KeyError: 'primary' (helpers.py:5)"
    called = line_of(PROGRAMS / "failing" / "__main__.py", "name = bucket_names(")
    assert f'File "__main__.py", line {called}, in <module>' in text
    assert 'File "helpers.py", line 5, in bucket_names' in text
    assert lines[-1] == "KeyError: 'primary'"
    assert "site-packages" not in text and "<frozen" not in text
    assert "golive" not in text.replace("failing", "")


def test_a_hanging_program_is_stopped_at_the_timeout():
    started = time.monotonic()
    with pytest.raises(ProgramError) as caught:
        run_program(PROGRAMS / "hanging", "dev", timeout=2)
    elapsed = time.monotonic() - started
    assert elapsed < 10
    sleeping = line_of(PROGRAMS / "hanging" / "__main__.py", "time.sleep(")
    expected = f"program did not finish within 2s and was stopped (at __main__.py:{sleeping})"
    assert str(caught.value) == expected


# --- a bigger realistic program -------------------------------------------------------------------

def test_webapp_network_over_availability_zones(webapp_graph):
    vpc = node(webapp_graph, "main-vpc", "Vpc")
    network = node(webapp_graph, "main", "Network")
    assert vpc.urn == "urn:pulumi:prod::webapp::webapp:infra:Network$aws:ec2/vpc:Vpc::main-vpc"
    assert network.inputs == {"cidr": "10.0.0.0/16"}  # the project-level default of cidrBlock
    subnets = sorted((r for r in webapp_graph.resources if r.type == "aws:ec2/subnet:Subnet"),
                     key=lambda r: r.name)
    assert [s.inputs["availabilityZone"] for s in subnets] == ["us-west-2a", "us-west-2b", "us-west-2c"]
    assert [s.inputs["cidrBlock"] for s in subnets] == ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24"]
    assert all(s.inputs["vpcId"] == UNKNOWN for s in subnets)
    assert all(s.property_dependencies["vpcId"] == [vpc.urn] for s in subnets)
    assert subnets[0].source == SourcePosition("infra/network.py", 18)
    assert network.outputs["subnetIds"] == [UNKNOWN] * 3


def test_webapp_providers_options_and_transforms(webapp_graph):
    west = node(webapp_graph, "west", "pulumi:providers:aws")
    assert west.inputs["region"] == "us-west-1" and west.custom
    default = node(webapp_graph, "default_" + AWS_VERSION.replace(".", "_"), "pulumi:providers:aws")
    assert default.inputs["defaultTags"] == '{"tags":{"team":"web"}}'
    bucket = node(webapp_graph, "assets", "s3/bucket:Bucket")
    assert bucket.provider == west.urn and bucket.options.protect
    assert bucket.inputs["tags"] == {"managed-by": "pulumi"}  # added by the stack transform
    block = node(webapp_graph, "assets", "BucketPublicAccessBlock")
    assert block.options.delete_before_replace is True and block.provider == west.urn
    fn = node(webapp_graph, "fn", "Function")
    assert fn.options.custom_timeouts.create == 300
    assert fn.options.aliases == ["urn:pulumi:prod::webapp::aws:lambda/function:Function::function"]
    assert fn.inputs["code"][SIG] == wire.ARCHIVE_SIG and fn.inputs["code"]["path"] == "./app"
    role = node(webapp_graph, "fn-role", "Role")
    assert fn.property_dependencies["role"] == [role.urn]
    assert len(fn.property_dependencies["vpcConfig"]) == 4  # three subnets and the security group
    sg = node(webapp_graph, "web", "SecurityGroup")
    assert sg.inputs["ingress"][0]["fromPort"] == 443
    assert sg.inputs["ingress"][0]["cidrBlocks"] == ["0.0.0.0/0"]


def test_webapp_reads_and_output_invokes(webapp_graph):
    legacy = node(webapp_graph, "legacy", "Vpc")
    assert legacy.external and legacy.id == "vpc-0123456789abcdef0"
    assert ("aws:ec2/getAmi:getAmi", "placeholder") in [(i.token, i.answered) for i in webapp_graph.invokes]
    stack = node(webapp_graph, "webapp-prod", STACK_TYPE)
    assert stack.outputs["amiId"] == "offline-id" and stack.outputs["legacyVpc"] == "vpc-0123456789abcdef0"


# --- engine behaviour on small generated programs -------------------------------------------------

def write_program(folder: Path, main: str, config: str = "config:\n  aws:region: us-east-1\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Pulumi.yaml").write_text(f"name: {folder.name}\nruntime: python\n")
    (folder / "Pulumi.dev.yaml").write_text(config)
    (folder / "__main__.py").write_text(main)
    return folder


def test_error_log_duplicate_urn_and_refusals_fail_the_run(tmp_path):
    logged = write_program(tmp_path / "logged",
                           "import pulumi\npulumi.log.error('the topic policy is missing')\n")
    with pytest.raises(ProgramError, match=r"^the topic policy is missing$"):
        run_program(logged, "dev", timeout=60)

    dup = write_program(tmp_path / "dup",
                        "import pulumi_aws as aws\naws.sns.Topic('t')\naws.sns.Topic('t')\n")
    with pytest.raises(ProgramError) as caught:
        run_program(dup, "dev", timeout=60)
    first_line = str(caught.value).splitlines()[0]
    assert "Duplicate resource URN 'urn:pulumi:dev::dup::aws:sns/topic:Topic::t'" in first_line

    denied = write_program(tmp_path / "denied", "import pulumi_aws as aws\naws.sns.Topic('t')\n",
                           config="config:\n  pulumi:disable-default-providers: ['aws']\n")
    with pytest.raises(ProgramError, match="Default provider for 'aws' disabled"):
        run_program(denied, "dev", timeout=60)


def test_own_transform_stack_reference_and_missing_config(tmp_path):
    program = write_program(tmp_path / "mixed", (
        "import pulumi\nimport pulumi_aws as aws\n"
        "secret = aws.secretsmanager.Secret('s')\n"
        "def describe(args):\n"
        "    return pulumi.ResourceTransformResult({**args.props, 'description': 'rotated'}, args.opts)\n"
        "aws.secretsmanager.SecretRotation('r', secret_id=secret.id, rotation_lambda_arn='arn:x',\n"
        "    rotation_rules={'automatically_after_days': 30},\n"
        "    opts=pulumi.ResourceOptions(transforms=[describe]))\n"
        "ref = pulumi.StackReference('acme/network/prod')\n"
        "pulumi.export('vpc', ref.get_output('vpcId'))\n"
    ))
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"pulumi:pulumi:StackReference": [
        {"args": {"name": "acme/network/prod"}, "result": {"outputs": {"vpcId": "vpc-42"}}}]}))
    graph = run_program(program, "dev", invoke_results=results, timeout=60)
    rotation = node(graph, "r", "SecretRotation")
    secret_urn = node(graph, "s", "Secret").urn
    assert rotation.inputs["description"] == "rotated" and rotation.inputs["secretId"] == UNKNOWN
    # The SDK's transform callback returns plain values, so the engine rebuilds empty property
    # dependencies; only the resource-level dependency survives (via the options' dependsOn).
    assert rotation.property_dependencies["secretId"] == [] and rotation.dependencies == [secret_urn]
    ref = node(graph, "acme/network/prod", "StackReference")
    assert ref.external and ref.outputs["outputs"] == {"vpcId": "vpc-42"}
    assert node(graph, "mixed-dev", STACK_TYPE).outputs == {"vpc": "vpc-42"}
    assert node(graph, "default", "pulumi:providers:pulumi").inputs == {}

    missing = write_program(tmp_path / "needs", "import pulumi\npulumi.Config().require('domain')\n")
    with pytest.raises(ProgramError) as caught:
        run_program(missing, "dev", timeout=60)
    first_line = str(caught.value).splitlines()[0]
    assert first_line == "Missing required configuration variable 'needs:domain'"


DATA_SOURCES = """\
import json
import pulumi
import pulumi_aws as aws

# As pulumi/examples' aws-py-webserver writes it: the bool as a string, which the provider converts.
ami = aws.ec2.get_ami(most_recent="true", owners=["137112412989"],
                      filters=[{"name": "name", "values": ["amzn-ami-hvm-*"]}])
typed = aws.ec2.get_ami(most_recent=True, owners=["amazon"],
                        filters=[aws.ec2.GetAmiFilterArgs(name="name", values=["al2023-ami-*"])])
me = aws.get_caller_identity()
region = aws.get_region()
zones = aws.get_availability_zones(state="available")
zone = aws.route53.get_zone(name="example.com", private_zone=False)
assume = aws.iam.get_policy_document(statements=[{
    "effect": "Allow",
    "actions": ["sts:AssumeRole"],
    "principals": [{"type": "Service", "identifiers": ["ec2.amazonaws.com", "lambda.amazonaws.com"]}],
    "conditions": [{"test": "StringEquals", "variable": "aws:SourceAccount", "values": [me.account_id]}],
}])
server = aws.ec2.Instance("web", ami=ami.id, instance_type="t3.micro",
                          availability_zone=zones.names[0], tags={"Name": "web"})
aws.iam.Role("role", assume_role_policy=assume.json)
pulumi.export("ami", {"id": ami.id, "mostRecent": ami.most_recent, "filters": [f.values for f in ami.filters],
                      "typed": typed.most_recent, "owners": typed.owners})
pulumi.export("where", [me.account_id, region.name, zones.names, zone.zone_id, zone.name, zone.private_zone])
pulumi.export("policy", json.loads(assume.json))
"""


def test_data_sources_real_programs_call_run_offline(tmp_path):
    graph = run_program(write_program(tmp_path / "sources", DATA_SOURCES), "dev", timeout=60)
    outputs = node(graph, "sources-dev", STACK_TYPE).outputs
    # Echoed arguments come back in the declared result type: "true" is the bool true.
    assert outputs["ami"] == {"id": "offline-id", "mostRecent": True, "filters": [["amzn-ami-hvm-*"]],
                              "typed": True, "owners": ["amazon"]}
    assert outputs["where"] == ["000000000000", "us-east-1", ["us-east-1a", "us-east-1b", "us-east-1c"],
                                "offline-zoneId", "example.com", False]
    # The policy document is rendered from its statements, as the provider renders it.
    assert outputs["policy"] == {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]},
        "Condition": {"StringEquals": {"aws:SourceAccount": "000000000000"}}}]}
    assert json.loads(node(graph, "role", "Role").inputs["assumeRolePolicy"]) == outputs["policy"]
    assert node(graph, "web", "Instance").inputs["ami"] == "offline-id"
    assert {i.answered for i in graph.invokes} == {"placeholder"} and len(graph.invokes) == 7


# --- monitor pieces that need no program ----------------------------------------------------------

def test_urns_join_parent_types_except_under_the_stack():
    stack = urns.make_urn("s", "p", "", STACK_TYPE, "p-s")
    a = urns.make_urn("s", "p", stack, "x:index:A", "a")
    b = urns.make_urn("s", "p", a, "x:index:B", "b")
    c = urns.make_urn("s", "p", b, "aws:s3/bucket:Bucket", "c")
    assert stack == "urn:pulumi:s::p::pulumi:pulumi:Stack::p-s"
    assert a == "urn:pulumi:s::p::x:index:A::a"
    assert c == "urn:pulumi:s::p::x:index:A$x:index:B$aws:s3/bucket:Bucket::c"


def test_engine_view_collapses_resource_references_and_output_values():
    ref = {SIG: wire.RESOURCE_SIG, "urn": "urn:pulumi:s::p::a:b:C::c", "id": UNKNOWN,
           "packageVersion": "1"}
    known = {**ref, "id": "i-123"}
    component = {SIG: wire.RESOURCE_SIG, "urn": "urn:pulumi:s::p::a:b:C::comp"}
    out = {SIG: wire.OUTPUT_SIG, "value": "v", "secret": True, "dependencies": ["urn:x"]}
    unknown_output = {SIG: wire.OUTPUT_SIG}
    assert wire.engine_view({"a": ref, "b": [known, component], "c": out, "d": unknown_output}) == {
        "a": UNKNOWN, "b": ["i-123", "urn:pulumi:s::p::a:b:C::comp"], "c": secret("v"), "d": UNKNOWN}


@pytest.mark.parametrize(("text", "seconds"),
                         [("5m", 300), ("1h30m", 5400), ("1.5s", 1.5), ("", 0), ("0", 0)])
def test_custom_timeouts_parse_like_go(text, seconds):
    assert durations.duration_seconds(text) == seconds


def test_default_provider_names_and_version_ranges():
    assert urns.default_provider_name("7.51.1") == "default_7_51_1"
    assert urns.default_provider_name("") == "default"
    assert urns.default_provider_name("1.2.3-alpha.1") == "default_1_2_3_alpha_1"
    assert versions.version_in_range("3.272.0", ">=3.0.0 <4.0.0")
    assert not versions.version_in_range("3.272.0", ">=4.0.0 || <3.100.0")


# --- provider functions without a program ---------------------------------------------------------

def test_unknown_packages_get_an_empty_result_and_lists_have_three_elements():
    providers = OfflineProviders({"aws:region": "ap-south-1"})
    assert providers.answer("nosuchpkg:index/getThing:getThing", {}) == ({}, "placeholder")
    result, how = providers.answer("aws:ec2/getSubnets:getSubnets", {})
    assert how == "placeholder" and result["ids"] == ["offline-ids-0", "offline-ids-1", "offline-ids-2"]
    assert result["filters"] is None  # an optional argument left out comes back null
    region, _ = providers.answer("aws:index/getRegion:getRegion", {})
    assert region["name"] == "ap-south-1"
    zone, _ = providers.answer("aws:route53/getZone:getZone", {"name": "a.com"})
    assert zone["arn"] == "arn:aws:route53:ap-south-1:000000000000:offline-arn" and zone["name"] == "a.com"
    assert zone["privateZone"] is None  # an optional argument of get_zone the program did not pass
    assert zone["resourceRecordSetCount"] == 0
    assert zone["nameServers"] == [f"offline-nameServers-{i}" for i in range(3)]


@pytest.mark.parametrize(("text", "message"), [
    ("aws:x/getY:getY: [", r"^bad\.yaml: malformed YAML"),
    ("- 1\n", r"^bad\.yaml: expected a mapping of function token to result$"),
    ("getZone: {zoneId: z}\n", r"^bad\.yaml: 'getZone' is not a function token"),
    ("aws:route53/getZone:getZone: [1]\n", r"^bad\.yaml: aws:route53/getZone:getZone\[0\]: expected \{args"),
])
def test_results_file_errors_name_the_file(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InvokeResultsError, match=message):
        load_invoke_results(path)


# --- how the program's process is started and ended ------------------------------------------------

def test_on_start_and_on_register_follow_the_program(tmp_path):
    folder = write_program(tmp_path / "follow", "import os\nimport pulumi_aws as aws\n"
                           "open('pid', 'w').write(str(os.getpid()))\n"
                           "topic = aws.sns.Topic('alerts')\n"
                           "aws.sns.TopicSubscription('oncall', topic=topic.arn, protocol='email', endpoint='a@b.c')\n")
    prepared = program.prepare_program(folder, "dev")
    stack = prepared.stack()
    assert (stack.project, stack.stack, stack.config, stack.resources) == ("follow", "dev",
                                                                           {"aws:region": "us-east-1"}, [])
    started, registered, done = [], [], []

    def shutdown(graph: ResourceGraph) -> None:  # the program's process is still alive, waiting on this
        done.append((len(graph.resources), Path(f"/proc/{(folder / 'pid').read_text()}").exists()))

    graph = prepared.run(timeout=60, on_start=lambda: started.append(len(registered)),
                         on_register=registered.append, on_shutdown=shutdown)
    assert started == [0]  # called once, before the program registered anything
    assert registered == graph.resources  # every resource, in registration order
    assert done == [(4, True)]  # once, with everything registered, while the program's process still ran
    assert [r.type for r in registered] == [STACK_TYPE, "pulumi:providers:aws", "aws:sns/topic:Topic",
                                            "aws:sns/topicSubscription:TopicSubscription"]


def test_services_started_before_the_program_when_no_port_can_be_held(tmp_path, monkeypatch):
    monkeypatch.setattr(program, "_reserve_port", lambda: None)
    folder = write_program(tmp_path / "plain", "import pulumi_aws as aws\naws.sns.Topic('t')\n")
    graph = run_program(folder, "dev", timeout=60)
    assert [r.type for r in graph.resources][-1] == "aws:sns/topic:Topic"


def test_an_interpreter_that_fails_at_once_is_reported_as_such(tmp_path):
    folder = write_program(tmp_path / "broken", "import pulumi\n")
    (folder / "Pulumi.yaml").write_text("name: broken\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n")
    python = folder / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\necho 'cannot start this interpreter' >&2\nexit 3\n")
    python.chmod(0o755)
    with pytest.raises(ProgramError, match=r"exit status 3\): cannot start this interpreter"):
        run_program(folder, "dev", timeout=60)


def test_files_a_program_leaves_open_are_flushed_at_exit(tmp_path):
    # Reachable only through a reference cycle once the interpreter clears its modules: a plain exit
    # collects the cycle and so flushes the files; golive's quicker exit must not lose their data.
    folder = write_program(tmp_path / "openfile", "import sys, types\n"
                           "log = open('written.txt', 'w')\n"
                           "log.write('kept open until exit\\n')\n"
                           "raw = open('written.bin', 'wb')\n"
                           "raw.write(b'bytes too')\n"
                           "def files():\n"
                           "    return log, raw\n"
                           "holder = sys.modules['open_file_holder'] = types.ModuleType('open_file_holder')\n"
                           "holder.files = files\n")
    run_program(folder, "dev", timeout=60)
    assert (folder / "written.txt").read_text() == "kept open until exit\n"
    assert (folder / "written.bin").read_bytes() == b"bytes too"


def test_the_program_collects_cyclic_garbage_less_often_but_still_collects_it(tmp_path):
    folder = write_program(tmp_path / "garbage", "import gc, weakref\nimport pulumi\n"
                           "class Cycle:\n    pass\n"
                           "cycle = Cycle()\ncycle.me = cycle\nref = weakref.ref(cycle)\ndel cycle\n"
                           "young = [[] for _ in range(1000)]\n"
                           "pulumi.export('afterThousand', ref() is None)\n"
                           f"young += [[] for _ in range({_exec.GC_THRESHOLD0 + 200_000})]\n"
                           "pulumi.export('afterMany', ref() is None)\n")
    outputs = node(run_program(folder, "dev", timeout=60), "garbage-dev", STACK_TYPE).outputs
    # CPython's default (700) would have collected the cycle among the first thousand new objects.
    assert outputs == {"afterThousand": False, "afterMany": True}


def test_engine_services_load_the_protocol_without_the_sdk():
    # In a fresh interpreter, as `golive check` starts: the SDK stays unloaded, and its classes are the
    # same ones once something loads it after all.
    script = (
        "import sys\n"
        "import golive.analysis.analyzer, golive.preview.services\n"
        "assert 'pulumi' not in sys.modules, sorted(m for m in sys.modules if m.startswith('pulumi'))\n"
        "from pulumi.runtime.proto import analyzer_pb2, resource_pb2\n"
        "assert golive.preview.services.resource_pb2.RegisterResourceRequest is resource_pb2.RegisterResourceRequest\n"
        "assert golive.analysis.analyzer.analyzer_pb2.AnalyzeRequest is analyzer_pb2.AnalyzeRequest\n"
        "assert golive.analysis.analyzer.analyzer_pb2.MANDATORY == analyzer_pb2.MANDATORY\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_engine_takes_no_resources_after_the_shutdown_signal():
    preview = deployment.Preview(project="p", stack="s", organization="o", root_dir=REPO_ROOT, pwd=REPO_ROOT)
    service = services.ResourceMonitorService(preview)

    class Aborted(Exception):
        pass

    class Context:
        def abort(self, code, details):
            raise Aborted(code, details)

    calls = []
    preview.on_shutdown = lambda graph: calls.append(graph)
    service.SignalAndWaitForShutdown(None, Context())
    assert calls == [preview.graph]
    with pytest.raises(Aborted, match="Already waiting for shutdown"):  # resmon's answer to a second call
        service.SignalAndWaitForShutdown(None, Context())
    request = services.resource_pb2.RegisterResourceRequest(type="aws:sns/topic:Topic", name="late", custom=True)
    with pytest.raises(Aborted, match="'late' was registered after the program signalled"):
        service.RegisterResource(request, Context())
    assert calls == [preview.graph] and preview.graph.resources == []
