"""Where the repository is: the default run store, the committed results and local data live under it."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
