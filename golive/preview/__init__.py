"""The offline preview: a Pulumi program run against golive's own engine services, into a resource graph."""
