"""Prints a line to each stream and exits with the code given (default 3)."""

import sys

print("about to crash", flush=True)
print("boom", file=sys.stderr, flush=True)
sys.exit(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
