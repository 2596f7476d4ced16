"""The production setup for Customer.io: stack config in, the six components out."""

import pulumi
import pulumi_aws as aws

from checklist import catalog
from components import (
    AutoRollback,
    AutoRollbackArgs,
    CustomerIoCredentials,
    CustomerIoCredentialsArgs,
    DeliveryAlarms,
    DeliveryAlarmsArgs,
    RolloutFlag,
    RotationFunction,
    SendingDomain,
    SendingDomainArgs,
    settings,
)

cfg = settings.load()

alarms = DeliveryAlarms("customerio", DeliveryAlarmsArgs(
    environment=cfg.environment,
    alert_emails=cfg.alert_emails,
    alert_https_endpoints=cfg.alert_https_endpoints,
    thresholds=cfg.thresholds,
    actions_enabled=cfg.alarm_actions_enabled,
))
rotation = RotationFunction("customerio-rotation", cfg.environment, alarms.topic.arn)
credentials = CustomerIoCredentials("customerio", CustomerIoCredentialsArgs(
    environment=cfg.environment,
    region=cfg.region,
    rotation_lambda_arn=rotation.function.arn,
    reader_principals=cfg.reader_principals,
    rotation_days=cfg.rotation_days,
    kinds=cfg.credential_kinds,
    values=cfg.credential_values,
    rotation_depends_on=[rotation.permission],
    alert_topic_arn=alarms.topic.arn,
))
zone_id = cfg.zone_id or aws.route53.get_zone(name=cfg.zone_name).zone_id
domain = SendingDomain("customerio", SendingDomainArgs(
    zone_id=zone_id,
    domain=cfg.domain,
    subdomain=cfg.subdomain,
    dkim_public_key=cfg.dkim_public_key,
    dkim_selector=cfg.dkim_selector,
    region=cfg.region,
    dmarc=cfg.dmarc,
    link_tracking_host=cfg.link_tracking_host,
    mx_hosts=cfg.mx_hosts,
    spf_includes=cfg.spf_includes,
    spf_all=cfg.spf_all,
))
flag = RolloutFlag("customerio", cfg.environment, initial_stage=cfg.rollout_initial_stage)
if cfg.rollout.auto_rollback and cfg.rollout.trigger_signals:
    AutoRollback("customerio-rollback", AutoRollbackArgs(
        environment=cfg.environment,
        flag_name=flag.parameter.name,
        flag_arn=flag.parameter.arn,
        alert_topic_arn=alarms.topic.arn,
        trigger_alarms={signal: alarms.alarms[signal].name for signal in cfg.rollout.trigger_signals},
        triggers=cfg.rollout.triggers,
    ))

pulumi.export("secretArns", {kind: s.arn for kind, s in credentials.secrets.items()})
pulumi.export("alertTopicArn", alarms.topic.arn)
pulumi.export("rolloutParameter", flag.parameter.name)
pulumi.export("sendingSubdomain", cfg.subdomain)
pulumi.export("region", cfg.region)
# Only for values that came through secret config: what `golive fingerprints` reads from Secrets
# Manager otherwise. A fingerprint reveals nothing usable of the key, so it is exported in the clear.
pulumi.export("credentialFingerprints", {
    kind: pulumi.Output.unsecret(value.apply(catalog.fingerprint)) for kind, value in cfg.credential_values.items()
})
