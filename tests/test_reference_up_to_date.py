"""The README's language reference is what scripts/gen_reference.py writes
from the builtins table and the probe providers."""

from pytrace.scripts import gen_reference


def test_readme_reference_is_current():
    with open(gen_reference.README) as f:
        current = f.read()
    assert gen_reference.render(current) == current, (
        "README.md's language reference is stale: run python3 scripts/gen_reference.py")


def test_reference_lists_every_builtin_and_probe():
    text = gen_reference.reference()
    for name in gen_reference.builtins.VARIABLES:
        assert f"| `{name}` |" in text
    for name in gen_reference.builtins.FUNCTIONS:
        assert f"`{name}(" in text or f"`@m = {name}(" in text, name
    for p in gen_reference.PROVIDERS:
        assert f"| `{p.name}` |" in text
