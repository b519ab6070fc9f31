"""The window's views of the `Session`: each subscribes to its events and draws; none keeps its own results.

compare (the grid and the shared zoom), split, rd_plot, latent, explanation, demo.
"""
