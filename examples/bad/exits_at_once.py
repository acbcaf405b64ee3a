"""A program that ends before anyone can look at it, with exit code 4."""

import sys

sys.exit(4)
