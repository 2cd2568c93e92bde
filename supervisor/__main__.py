"""``python -m supervisor`` runs the CLI."""

import sys

from supervisor.cli import main

sys.exit(main())
