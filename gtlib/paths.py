"""Where things are: the repository (the default run store, the committed results and local data
live under it), and the environment variable naming the Dask scheduler runs train on
(`gtlib.cluster`)."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEDULER_ENV = "GTLIB_SCHEDULER"
