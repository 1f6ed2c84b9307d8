"""Admin for every capability; each keeps its ModelAdmins in its own module here."""
