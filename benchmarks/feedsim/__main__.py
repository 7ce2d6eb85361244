"""`python -m benchmarks.feedsim` from the repository root (or `python benchmarks/feedsim`)."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__:
    from .runner import main
else:  # run as a directory: make the package importable by its own name
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from feedsim.runner import main

if __name__ == "__main__":
    sys.exit(main())
