"""moto in server mode for the local stack, with one change: each state machine definition is
parsed once rather than at every execution.

moto's Step Functions interpreter runs its ANTLR parser on the whole ASL for every execution; with
two executions per job that was about a quarter of the emulator's CPU (py-spy, 60 jobs). The parse
tree depends only on the definition text, so it is cached; turning it into evaluation components
still happens per execution, so no state is shared between executions.

    python -m pixelpipe_cli.emulator -H 127.0.0.1 -p 5055
"""

from __future__ import annotations

from functools import lru_cache

from moto import server
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor


@lru_cache(maxsize=32)
def _parse_tree(definition: str):
    _program, tree = _original_parse(definition)
    return tree


_original_parse = asl_parser.AmazonStateLanguageParser.parse


def _parse(definition: str):
    tree = _parse_tree(definition)
    return Preprocessor().visit(tree), tree


def main() -> None:
    asl_parser.AmazonStateLanguageParser.parse = staticmethod(_parse)
    server.main()


if __name__ == "__main__":
    main()
