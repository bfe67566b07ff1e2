"""moto in server mode for the local stack, with three changes that only make it faster.

The emulator answers every AWS call of the pipeline and interprets every state machine execution, so
its CPU bounds the local stack's throughput. Profiled with py-spy on 60 jobs:
- moto's Step Functions interpreter ran its ANTLR parser on the whole ASL for every execution (about
  a quarter of the CPU). The parse tree depends only on the definition text, so it is cached; turning
  it into evaluation components still happens per execution, so executions share no state.
- every request listed moto's package directory to route by Host header (about a tenth): the listing
  never changes while the server runs, so it is read once.
- werkzeug logged every request to stderr: only warnings are kept.

    python -m pixelpipe_cli.emulator -H 127.0.0.1 -p 5055
"""

from __future__ import annotations

import logging
import os
import threading
import time
from functools import lru_cache

from moto import backends, server
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

from pixelpipe_cli import emulator_s3_events, faults


@lru_cache(maxsize=32)
def _parse_tree(definition: str):
    _program, tree = _original_parse(definition)
    return tree


_original_parse = asl_parser.AmazonStateLanguageParser.parse


def _parse(definition: str):
    tree = _parse_tree(definition)
    return Preprocessor().visit(tree), tree


def main() -> None:
    emulator_s3_events.install()
    faults.install_in_emulator()
    asl_parser.AmazonStateLanguageParser.parse = staticmethod(_parse)
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    server.main()


def _exit_with_parent(parent: int) -> None:
    """The stack that started this emulator may be killed outright; never outlive it."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


if __name__ == "__main__":
    main()
