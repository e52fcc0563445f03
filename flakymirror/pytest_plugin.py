"""pytest plugin of flakymirror (registered through the ``pytest11`` entry point)."""
