"""What `golive check` is asked, as a function API shared by the single check (check.py) and the
many-stacks runner (fleet.py), so that neither has to import the other for it."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CheckOptions"]


class CheckOptions:
    """What `golive check` is asked, as a function API: golive/cli.py builds one from the command
    line's options (the same names), `json_report` one for `golive waivers check`.
    (A plain class: a dataclass would cost every `golive check` its start-up.)"""

    __slots__ = ("all_stacks", "baseline", "compare", "compare_report", "config", "format", "invoke_results", "jobs",
                 "output", "policy_pack", "policy_pack_config", "program_dir", "stack", "state", "timeout",
                 "write_baseline")

    def __init__(self, *, policy_pack: str, program_dir: str | None = None, stack: str | Sequence[str] | None = None,
                 policy_pack_config: str | None = None, format: str = "text", output: str | None = None,
                 config: Sequence[str] = (), invoke_results: str | None = None, timeout: float = 300.0,
                 state: str | Sequence[str] | None = None, baseline: str | None = None,
                 write_baseline: str | None = None, all_stacks: bool = False, jobs: int | None = None,
                 compare: str | None = None) -> None:
        self.program_dir = program_dir  # None: "."; with --state, only for the stack's config
        self.stack = stack  # one name, or names and patterns (several stacks: one merged report)
        self.policy_pack = policy_pack
        self.policy_pack_config = policy_pack_config
        self.format = format
        self.output = output  # None: standard output
        self.config = list(config)  # KEY=VALUE overrides
        self.invoke_results = invoke_results
        self.timeout = timeout  # seconds the program may run
        self.state = state  # `pulumi stack export` file(s) to check instead of running the program
        self.baseline = baseline
        self.write_baseline = write_baseline
        self.all_stacks = all_stacks  # every stack of every project under program_dir
        self.jobs = jobs  # stacks checked at once (None: the cores golive may use)
        self.compare = compare  # a previous JSON report: what is new, fixed and unchanged
        self.compare_report = None  # that report, read before the run
