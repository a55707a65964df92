"""``wats bench``: benchmarks that print ratios against a baseline measured in the same run.

They are measurements, not tests: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import importlib


def main(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"wats.bench.{args.which}")
    return int(module.run(args) or 0)
