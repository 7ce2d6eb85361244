import sys

from molodets.cli import main

sys.exit(main())
