"""The audit's Customer.io part (§1, §3 CAN-SPAM and §6 of the checklist): the keys in Secrets Manager really work.

- Track API: `GET /api/v1/accounts/region` with the site ID and Track key read from Secrets Manager:
  they authenticate, and the workspace is in the configured region.
- App API: `GET /v1/campaigns` with the App key (a 403 is a plan limit: the key itself was accepted).
- CAN-SPAM: every email action of every active campaign carries the unsubscribe tag
  (`{% unsubscribe_url %}` or `{% manage_subscription_preferences_url %}`) and the postal address
  from `golive:postalAddress`.
- `--write-test` only: identify a uniquely named test profile through the Track API (the `customerio`
  package) and delete it again. Never `suppress`: that deletes the profile and blocks its id for good,
  so an audit that used it would fail on its second run.

Values are read from Secrets Manager per check, used for the calls, and dropped; a site ID appears
in a detail as its first characters at most.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from golive.clients import customerio as cio
from golive.operations.audit.aws_calls import shared_client
from golive.operations.audit.result import AuditResult, Check, failed, passed, warned
from golive.operations.audit.target import AuditTarget

SECTION = "§6 smoke test"  # the checklist's Track and App API connectivity
SPAM_SECTION = "§3 email deliverability"  # its CAN-SPAM rows
UNSUBSCRIBE = re.compile(r"\{%-?\s*(unsubscribe_url|manage_subscription_preferences_url)\b[^%]*-?%\}")
MAX_PAGES = 50  # a runaway `next` cursor must not keep the audit going


class _Unreadable(Exception):
    """A credential could not be read from Secrets Manager; the text names the secret and the code."""


def _secret(target: AuditTarget, kind: str) -> str:
    secret_id = target.secret_ids[kind]
    try:
        client = shared_client(target, "secretsmanager")
        value = client.get_secret_value(SecretId=secret_id).get("SecretString")
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "error")
        if code == "ResourceNotFoundException":  # what AWS answers for a secret with no AWSCURRENT value too
            raise _Unreadable(f"{secret_id} has no {kind} value (or does not exist): store one with "
                              f"`{target.credentials('put', kind)}`") from None
        raise _Unreadable(f"cannot read {kind} from {secret_id} ({code})") from None
    except BotoCoreError as err:
        raise _Unreadable(f"cannot read {kind} from {secret_id} ({type(err).__name__})") from None
    if not value:
        raise _Unreadable(f"{secret_id} holds no {kind}: store one with `{target.credentials('put', kind)}`")
    return value


def _client(target: AuditTarget) -> cio.CustomerIo:
    e = target.endpoints
    return cio.CustomerIo(target.region, track_url=e.track_url, api_url=e.api_url, verify=e.ca_bundle,
                          connect_timeout=e.timeout, read_timeout=e.timeout)


def _why(err: cio.CustomerIoError, target: AuditTarget, kind: str) -> str:
    if isinstance(err, cio.Unauthorized):
        return (f"{err} - Customer.io rejects the key: create a new one and store it with "
                f"`{target.credentials('put', kind)}`")
    if isinstance(err, cio.Throttled):
        return f"{err} - Customer.io kept answering 429 (about 10 requests/s allowed); run the audit again later"
    return str(err)


def _guard(name: str, section: str, body: Callable[[], list[AuditResult]], target: AuditTarget,
           key: str) -> Callable[[], list[AuditResult]]:
    """`key`: the credential kind a 401 says to replace."""
    def run() -> list[AuditResult]:
        try:
            return body()
        except _Unreadable as err:
            return [failed(name, str(err), section)]
        except cio.CustomerIoError as err:
            return [failed(name, _why(err, target, key), section)]
        except cio.ClientConfigError as err:
            return [failed(name, str(err), section)]
    return run


def track_check(target: AuditTarget) -> list[AuditResult]:
    name = "customerio-track-api"
    site_id, track_key = _secret(target, "site-id"), _secret(target, "track-api-key")
    with _client(target) as client:
        account = client.track_region(site_id, track_key)
    hint = cio.site_id_hint(site_id)
    del site_id, track_key
    if account.region != target.region:
        return [failed(name, f"site ID {hint} authenticates, but its workspace is in region {account.region} "
                             f"while the stack is configured for {target.region}: fix golive:customerioRegion "
                             f"or store the {target.region} workspace's keys", SECTION)]
    env = f", environment {account.environment_id}" if account.environment_id is not None else ""
    return [passed(name, f"site ID {hint} authenticates; workspace region {account.region}{env}", SECTION)]


def app_check(target: AuditTarget) -> list[AuditResult]:
    name = "customerio-app-api"
    key = _secret(target, "app-api-key")
    with _client(target) as client:
        result = client.check_app_key(key)
    if result.plan_limited:
        return [warned(name, "the App API key authenticates, but GET /v1/campaigns answered 403 (a plan limit): "
                             "campaign checks cannot run on this plan", SECTION)]
    return [passed(name, "the App API key authenticates (GET /v1/campaigns)", SECTION)]


def _normal(text: str) -> str:
    """Text for an address comparison: tags and entities gone, punctuation and spacing ignored."""
    text = re.sub(r"<[^>]*>", " ", text)
    text = re.sub(r"&[a-zA-Z#0-9]+;", " ", text)
    return " ".join(re.findall(r"[0-9a-z]+", text.lower()))


def _pages(client: cio.CustomerIo, key: str, path: str, field: str) -> Iterator[dict[str, Any]]:
    params: dict[str, str] | None = None
    for _ in range(MAX_PAGES):
        body = client.app_get(key, path, params)
        items = body.get(field) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise cio.UnexpectedResponse(f"App API: GET {path} answered without a '{field}' list", api="app",
                                         path=path, status=200)
        yield from (item for item in items if isinstance(item, dict))
        cursor = body.get("next")
        if not cursor:
            return
        params = {"start": str(cursor)}


def can_spam_check(target: AuditTarget) -> list[AuditResult]:
    name = "customerio-can-spam"
    key = _secret(target, "app-api-key")
    address = _normal(target.postal_address or "")
    problems: list[str] = []
    scanned = 0
    with _client(target) as client:
        try:
            campaigns = [c for c in _pages(client, key, "/v1/campaigns", "campaigns")
                         if c.get("active") is True or c.get("state") == "running"]
        except cio.PlanLimited:
            return [warned(name, "the App API answered 403 (a plan limit): campaigns cannot be scanned", SPAM_SECTION)]
        for campaign in campaigns:
            label = f"campaign {campaign.get('id')} ({campaign.get('name', 'unnamed')})"
            for action in _pages(client, key, f"/v1/campaigns/{campaign.get('id')}/actions", "actions"):
                if action.get("type") != "email":
                    continue
                scanned += 1
                body = str(action.get("body") or "")
                missing = []
                if not UNSUBSCRIBE.search(body):
                    missing.append("the unsubscribe tag {% unsubscribe_url %}")
                if address and address not in _normal(body):
                    missing.append("the postal address")
                if missing:
                    problems.append(f"{label}, email '{action.get('name', action.get('id'))}' lacks "
                                    + " and ".join(missing))
    if problems:
        return [failed(name, "; ".join(problems) + ": add them to the email's footer or layout", SPAM_SECTION)]
    lines = [passed(name, f"{scanned} email(s) in {len(campaigns)} active campaign(s) carry the unsubscribe tag"
                          + (" and the postal address" if address else ""), SPAM_SECTION)]
    if not address:
        lines.append(warned("customerio-postal-address", "golive:postalAddress is not set, so emails were not "
                            "checked for the postal address CAN-SPAM requires: set it in the stack config",
                            SPAM_SECTION))
    return lines


def write_test(target: AuditTarget) -> list[AuditResult]:
    """Identify a throwaway profile and delete it. Never suppress."""
    from customerio import CustomerIO, CustomerIOException, Regions

    name = "customerio-write-test"
    site_id, track_key = _secret(target, "site-id"), _secret(target, "track-api-key")
    region = Regions.EU if target.region == "eu" else Regions.US
    host, port = None, None
    if target.endpoints.track_url:
        parts = urlsplit(target.endpoints.track_url)
        host, port = parts.hostname, parts.port
    client = CustomerIO(site_id, track_key, host=host, port=port, region=region, retries=2,
                        timeout=target.endpoints.timeout)
    del site_id, track_key
    trust = None
    if target.endpoints.ca_bundle:
        # requests lets REQUESTS_CA_BUNDLE override a session's `verify`, and the package's calls take no
        # `verify`: read the proxy settings once, then stop the environment from replacing the CA.
        import requests

        session = client.http
        session.proxies.update(requests.utils.get_environ_proxies(client.base_url))
        session.trust_env = False
        trust = cio.TrustBundle(target.endpoints.ca_bundle)  # the default store and the bundle, as for the probes
        session.verify = str(trust.path)
    profile = f"golive-audit-{uuid.uuid4().hex[:12]}"
    step = "identify"
    try:
        client.identify(profile, golive_audit=True)
        step = "delete"
        client.delete(profile)
    except CustomerIOException as err:
        # The package's text carries the request and the answer; only the status code leaves here.
        status = str(err).split(":", 1)[0].strip()
        status = status if status.isdigit() else "no answer"
        left = f"; profile {profile} may be left behind: delete it (never suppress)" if step == "delete" else ""
        return [failed(name, f"{step} of test profile {profile} failed ({status}){left}", SECTION)]
    finally:
        client.close()
        if trust is not None:
            trust.close()
    return [passed(name, f"identified and deleted test profile {profile}", SECTION)]


def connectivity_checks(target: AuditTarget) -> list[Check]:
    return [Check("customerio-track-api", SECTION, _guard("customerio-track-api", SECTION,
                                                          lambda: track_check(target), target, "track-api-key")),
            Check("customerio-app-api", SECTION, _guard("customerio-app-api", SECTION, lambda: app_check(target),
                                                        target, "app-api-key"))]


def checks(target: AuditTarget) -> list[Check]:
    found = [*connectivity_checks(target),
             Check("customerio-can-spam", SPAM_SECTION,
                   _guard("customerio-can-spam", SPAM_SECTION, lambda: can_spam_check(target), target,
                          "app-api-key"))]
    if target.write_test:
        found.append(Check("customerio-write-test", SECTION,
                           _guard("customerio-write-test", SECTION, lambda: write_test(target), target,
                                  "track-api-key")))
    return found
