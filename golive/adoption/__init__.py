"""Adoption: `golive check` and what a team lives with around it (baseline, waivers, explain, policies)."""
