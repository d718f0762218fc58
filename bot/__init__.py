"""citebot's front ends: the command line and the Discord bot. They format and deliver; the
retrieval package does the work."""
