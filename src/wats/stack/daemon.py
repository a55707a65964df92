"""The background process of a running WATS instance: the stand-in (gateway, Data API,
Auth, Storage, Edge Functions) with the WATS extensions (mobile-money sandbox,
scheduler), in one asyncio loop. Started by ``wats start``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from supabase_standin.ports import PortsBusy
from supabase_standin.stack import Stack
from wats.settings import Settings
from wats.stack import extensions
from wats.stack.ports import busy_message


def main() -> None:
    parser = argparse.ArgumentParser(description="WATS local stack daemon")
    parser.add_argument("--instance", default=os.environ.get("WATS_INSTANCE", "dev"))
    args = parser.parse_args()
    settings = Settings.load(args.instance)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stdout,
    )
    config = settings.standin()
    stack = Stack(config, extensions.for_settings(settings))
    try:
        asyncio.run(stack.serve())
    except PortsBusy as exc:  # taken since `wats start` looked: say so in one line, which start shows
        count = len(config.function_folders())
        print("error: " + busy_message(settings, exc.busy, "start", count), flush=True)
        sys.exit(3)


if __name__ == "__main__":
    main()
