"""The Customer.io checklist as plain data and pure rule functions; `pack` binds them to pulumi_policy."""
