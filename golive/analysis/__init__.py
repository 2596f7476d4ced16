"""Analysis: the policy pack's process, the analyzer protocol session, pack config, findings and reports."""
