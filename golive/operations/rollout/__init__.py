"""`golive rollout`: the flag's store, the gates and the command."""
