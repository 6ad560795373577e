"""Every documented Makefile target is phony: a target named like a folder of the
repository (`notebooks`, `docs`, `bench`) would otherwise be "up to date" and do nothing."""

from __future__ import annotations

import re
from pathlib import Path

MAKEFILE = Path(__file__).resolve().parents[1] / "Makefile"


def test_every_documented_target_is_phony():
    text = MAKEFILE.read_text(encoding="utf-8")
    documented = set(re.findall(r"^([a-z][a-z-]*):[^\n]*##", text, flags=re.MULTILINE))
    phony = set(" ".join(re.findall(r"^\.PHONY:(.*)$", text, flags=re.MULTILINE)).split())
    assert {"run", "test", "notebooks"} <= documented
    assert documented - phony == set()
