"""Operations on what is deployed: audit, the staged rollout, credentials and fingerprints."""
