#!/usr/bin/env python3
"""Seed the WATS demo data through the APIs (same as `./scripts/wats seed`).

Usage: .venv/bin/python scripts/seed.py [--instance dev|test] [--scale N]
"""

import sys

from wats.seed import main

if __name__ == "__main__":
    sys.exit(main())
