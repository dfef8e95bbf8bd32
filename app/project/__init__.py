"""The project feature: the open project (its state, frames, review queue, dataset panel,
pre-labelling, the Project menu's actions)."""
