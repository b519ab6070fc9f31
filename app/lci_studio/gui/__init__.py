"""Qt face: the window, its panels and the one background worker."""
