"""Background training jobs: one process per job, watched through its JSON-lines event file (ADR 0005)."""
