"""Rules of this checklist section (being written)."""
