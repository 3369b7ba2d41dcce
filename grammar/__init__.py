"""The surface syntax of the language lives in pytrace.lark beside this file."""

from pathlib import Path

GRAMMAR_PATH = Path(__file__).with_name("pytrace.lark")
