"""bwkit: a notebook-first reproducibility kit for next-minute network-metric prediction.

The notebooks in ``notebooks/`` tell the story; this package does the work.
"""
__version__ = "0.1.0"
