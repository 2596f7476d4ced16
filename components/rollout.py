"""RolloutFlag: the staged-rollout percentage as an SSM parameter that deploys never reset."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from checklist import catalog


class RolloutFlag(pulumi.ComponentResource):
    """Created at stage `0`; `golive rollout` moves it, so the value is ignored on later deploys."""

    def __init__(self, name: str, environment: str, opts: pulumi.ResourceOptions | None = None, *,
                 initial_stage: str = catalog.ROLLOUT_STAGES[0]):
        super().__init__("golive:rollout:RolloutFlag", name, None, opts)
        self.parameter = aws.ssm.Parameter(
            f"{name}-flag",
            name=catalog.ROLLOUT_PARAMETER_NAME.format(environment=environment),
            type="String",
            value=initial_stage,  # a plan stage, as the pack checks
            description="Customer.io staged rollout stage (0, internal, 10, 50, 100); moved by golive rollout",
            tags={catalog.ROLLOUT_FLAG_TAG: "true", "environment": environment},
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["value"]),
        )
        self.register_outputs({"parameterName": self.parameter.name})
