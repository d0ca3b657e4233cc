"""billed/vat.py: the VAT rules themselves are proven through `check` in tests/corpus/tax-treatment (E025, E026);
this is how python-stdnum is loaded."""

from __future__ import annotations

import subprocess
import sys


def test_stdnum_is_loaded_without_what_billed_never_calls() -> None:
    """stdnum.util's ssl, pydoc and pkgutil are stood in for while it loads and are not in sys.modules after; a
    later import gets the real module, and stdnum's own reference still reaches it."""
    script = ("import sys; from billed import vat\n"
              "print(vat.vat_problem('ATU13585626'), '|', vat.vat_problem('ATU13585627'),\n"
              "      vat.vat_country('EL094259216'), len(vat.eu()))\n"
              "print([m for m in ('ssl', 'pydoc', 'pkgutil') if m in sys.modules])\n"
              "import ssl, stdnum.util\n"
              "print(type(ssl).__name__, stdnum.util.ssl.SSLContext is ssl.SSLContext,\n"
              "      callable(stdnum.util.pkgutil.walk_packages))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines() == ["its check digits are wrong | None GR 27", "[]", "module True True"], \
        proc.stderr
