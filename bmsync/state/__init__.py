"""The snapshot store: one SQLite file per project of what both sides last agreed on."""
