"""gtlib: the reproducible companion to "Bridging Lottery Ticket and Grokking" (arXiv 2310.19470).

Start with `gtlib.experiments` (one function per figure family), `gtlib.runs.run` (get any run
from the store, training it if missing) and `gtlib.config.RunConfig` (a run's identity).
"""
__version__ = "0.1.0"
