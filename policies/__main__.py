"""Entry point the Pulumi CLI runs: `python -u -m pulumi.policy <engine> <this folder>`."""

from checklist.pack import serve

serve()
