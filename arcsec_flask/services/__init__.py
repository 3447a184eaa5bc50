"""Use cases: filing uploads, building data package archives, backups."""
