"""§1 Key rotation schedule: every Customer.io credential secret rotates at least every 90 days.

A secret is rotated by an `aws:secretsmanager/secretRotation:SecretRotation` whose `secretId` is
the secret: through the engine's property dependency (the only link on a first preview, where the
id is unknown) or a known name/ARN. Provider versions that carried `rotationRules` and
`rotationLambdaArn` on the secret itself are read the same way.

Unknowns, decided one by one:
- `rotationLambdaArn` unknown: fine when it is computed from a resource in the stack (a Lambda's
  ARN is unknown until the Lambda exists); unknown with no dependency is a finding.
- schedule (`scheduleExpression`, `automaticallyAfterDays`, `rotationRules`) unknown: a finding.
  A schedule is a literal in every real program; a guard must not pass what it cannot see.
- `rotationEnabled` unknown: accepted. AnalyzeStack sees a preview's outputs, where the provider
  leaves this optional, computed flag unknown whenever the program does not set it (it then
  defaults to enabled); only a known `false` is a finding.
- `secretId` unknown with no dependency: the rotation cannot be tied to a secret, so the secret
  reads as unrotated and the message says such a rotation exists.

`AutomaticallyAfterDays` is computed by AWS from a schedule expression, so a known
`scheduleExpression` wins and an unknown day count next to it is not held against the rotation.
The rotation window (`duration`) is not added to the gap: it delays a rotation by at most a day
and the checklist's cycle is measured between scheduled rotations.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any

from .. import schedule
from ..catalog import MAX_ROTATION_DAYS
from ..model import UNKNOWN, Resource, RuleFinding, Stack
from ..recognize import SECRET, SECRET_ROTATION, credential_secrets, physical_name, secrets_referenced
from .registry import rule

_LEGACY_PROPS = ("rotationRules", "rotationLambdaArn")


def _secret_label(secret: Resource) -> str:
    return f"secret '{physical_name(secret)}'"


def _rotations(stack: Stack) -> tuple[dict[str, list[Resource]], list[Resource]]:
    """Secret URN -> the rotations configured for it, and the rotations tied to no secret."""
    by_secret: dict[str, list[Resource]] = {}
    unlinked = []
    for rotation in stack.of_type(SECRET_ROTATION):
        secrets = secrets_referenced(stack, rotation)
        if not secrets and rotation.get("secretId") is UNKNOWN:
            unlinked.append(rotation)
        for secret in secrets:
            by_secret.setdefault(secret.urn, []).append(rotation)
    for secret in stack.of_type(SECRET):
        # Older providers output these (empty or unknown) on every secret; only a set value is a rotation.
        if any(secret.get(p) not in (None, UNKNOWN, "", [], {}) for p in _LEGACY_PROPS):
            by_secret.setdefault(secret.urn, []).append(secret)
    return by_secret, unlinked


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _max_days(cfg: Mapping[str, Any]) -> float:
    value = cfg.get("maxDays", MAX_ROTATION_DAYS)
    # The engine validates the schema; a direct caller with a bad value gets the checklist's cycle.
    return float(value) if _is_number(value) and value > 0 else float(MAX_ROTATION_DAYS)


def _computed_from_stack(resource: Resource, prop: str) -> bool:
    """`prop` comes from another resource: its own property dependency, or else a dependency that no
    other property accounts for (an engine or harness that records only `dependencies`)."""
    if resource.property_dependencies.get(prop):
        return True
    others = {u for key, urns in resource.property_dependencies.items() if key != prop for u in urns}
    return any(u not in others for u in resource.dependencies)


def _function_problem(rotation: Resource) -> str | None:
    arn = rotation.get("rotationLambdaArn")
    if arn is UNKNOWN:
        if _computed_from_stack(rotation, "rotationLambdaArn"):
            return None  # a Lambda's ARN, known once the Lambda exists
        return "its rotationLambdaArn is unknown at preview and not computed from a resource in the stack"
    if isinstance(arn, str) and arn.strip():
        return None
    return "it has no rotation function (rotationLambdaArn)"


def _schedule_problem(rules: Any, max_days: float) -> str | None:
    if isinstance(rules, list) and len(rules) == 1:
        rules = rules[0]  # the Terraform-shaped single-item block some provider versions output
    if rules is UNKNOWN:
        return "its rotationRules must be known at preview to be verified; use literal values"
    if not isinstance(rules, Mapping):
        return "it has no rotationRules schedule"
    expression = rules.get("scheduleExpression")
    days = rules.get("automaticallyAfterDays")
    if isinstance(expression, str) and expression.strip():
        return _expression_problem(expression.strip(), max_days)
    if _is_number(days):
        if days <= 0:
            return f"automaticallyAfterDays is {days:g}, which never rotates"
        if days > max_days:
            return f"it rotates every {days:g} days (automaticallyAfterDays); at most {max_days:g} allowed"
        return None
    if expression is UNKNOWN or days is UNKNOWN:
        return "its rotation schedule must be known at preview to be verified; use a literal schedule"
    return "its rotationRules set neither automaticallyAfterDays nor scheduleExpression"


def _expression_problem(expression: str, max_days: float) -> str | None:
    try:
        gap = schedule.longest_gap(expression)
    except schedule.ScheduleSyntaxError as err:
        return f"its scheduleExpression {expression!r} is not valid ({err.field}: {err.detail})"
    except schedule.ScheduleError as err:
        return f"its scheduleExpression {expression!r} is not a recurring schedule ({err.reason})"
    if gap > timedelta(days=max_days):
        return (
            f"its scheduleExpression {expression!r} leaves up to {schedule.describe(gap)} between rotations; "
            f"at most {max_days:g} days are allowed"
        )
    return None


def _problems(rotation: Resource, max_days: float) -> Iterator[str]:
    enabled = rotation.get("rotationEnabled")
    if enabled is False:
        yield "rotation is disabled (rotationEnabled = false)"
        return
    function = _function_problem(rotation)
    if function:
        yield function
    rules = rotation.get("rotationRules")
    problem = _schedule_problem(rules, max_days)
    if problem:
        yield problem


@rule("customerio-secret-rotation", customerio_only=True)
def check(stack: Stack, cfg: Mapping[str, Any]) -> Iterable[RuleFinding]:
    max_days = _max_days(cfg)
    by_secret, unlinked = _rotations(stack)
    for secret, _kind in credential_secrets(stack):
        rotations = by_secret.get(secret.urn, [])
        if not rotations:
            hint = (
                f" ({len(unlinked)} SecretRotation(s) have a secretId that is unknown at preview and not "
                "taken from a secret in this stack; pass the secret's `id` or `arn` output)"
                if unlinked
                else ""
            )
            yield RuleFinding(
                f"Customer.io {_secret_label(secret)} has no rotation: attach an "
                f"aws.secretsmanager.SecretRotation with a rotationLambdaArn and a schedule of at most "
                f"{max_days:g} days{hint}.",
                secret.urn,
            )
            continue
        for rotation in rotations:
            what = "its own rotation settings" if rotation is secret else f"SecretRotation '{rotation.name}'"
            for problem in _problems(rotation, max_days):
                yield RuleFinding(f"Customer.io {_secret_label(secret)}, {what}: {problem}.", rotation.urn)
