"""When a client's VAT treatment may be used: the conditions `check` holds each `tax:` to, before anything is issued.

- `reverse_charge` (VAT directive art. 44 and 196): a B2B supply of services to a customer established in another
  EU member state, who accounts for the VAT. The customer's VAT identification number must be on the invoice (art.
  226 (4)), so it is required here, valid in format and checksum for its member state (python-stdnum implements
  each state's algorithm), and of another member state than the seller's. The seller needs its own VAT id (226 (3)).
- `outside_eu` (art. 44): B2B services to a customer established outside the EU are supplied where the customer
  is, so they are not subject to VAT in the seller's member state (EN 16931 category O, "not subject to VAT").
  A customer in the EU is reverse charge or standard instead.

The VAT id's validity is checked offline (format and check digits); whether it is currently registered is a VIES
query the seller makes (art. 18 of Implementing Regulation 282/2011), which Billed does not do.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from billed.errors import Finding
from billed.model import Client, Settings


class _OnUse(ModuleType):
    """Stands in for a module not imported yet; the first attribute asked of it imports the real one."""

    def __getattr__(self, attr: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


@functools.cache
def stdnum_vat() -> ModuleType:
    """python-stdnum's EU VAT module, imported on first use: a warm `check` takes its clients from the cache and
    needs none of it.

    stdnum.util imports ssl, pydoc and pkgutil at its top for what Billed never calls (VIES lookups over SOAP,
    module listings and descriptions): ~10 ms of every run that checks a client. Those not imported yet are
    stood in for while it loads (`_OnUse`) and leave sys.modules right after, so the rest of the process imports
    the real ones as usual."""
    stand_ins = {name: _OnUse(name) for name in ("ssl", "pydoc", "pkgutil") if name not in sys.modules}
    sys.modules.update(stand_ins)
    try:
        return importlib.import_module("stdnum.eu.vat")
    finally:
        for name, module in stand_ins.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


@functools.cache
def eu() -> frozenset[str]:
    """The 27 member states (ISO 3166 codes). stdnum also knows XI, Northern Ireland, which is in the EU VAT area
    for goods only: services to it are not reverse charge from the EU."""
    return frozenset(code.upper() for code in stdnum_vat().MEMBER_STATES) - {"XI"}


PREFIX_COUNTRY = {"EL": "GR"}  # Greece's VAT ids start with EL


def vat_problem(number: str) -> str | None:
    """Why `number` is not a valid EU VAT id, or None."""
    eu_vat = stdnum_vat()
    from stdnum.exceptions import InvalidChecksum, ValidationError

    try:
        eu_vat.validate(number)
    except InvalidChecksum:
        return "its check digits are wrong"
    except ValidationError:
        return "it is not in the format of an EU VAT id"
    return None


def vat_country(number: str) -> str:
    prefix = stdnum_vat().compact(number)[:2].upper()
    return PREFIX_COUNTRY.get(prefix, prefix)


def check_reverse_charge(c: Client, s: Settings | None) -> list[Finding]:
    if c.tax != "reverse_charge":
        return []
    seller = s.seller.country if s is not None else None
    where = ("tax",)
    if c.party.country not in eu():
        return [c.loc.finding(where, "E026", f"reverse charge needs a client in an EU member state, but "
                              f"{c.party.country} is not one", "for B2B services to a client outside the EU use "
                              "`tax: outside_eu`")]
    if seller is not None and c.party.country == seller:
        return [c.loc.finding(where, "E026", f"reverse charge needs a client in another member state than the "
                              f"seller, but both are in {seller}", "use `tax: standard` for a domestic client")]
    if not c.party.vat_id:
        return [c.loc.finding(where, "E026", "reverse charge needs the client's VAT id, printed on every invoice "
                              "(VAT directive art. 226 (4))", f"add `vat_id:` (e.g. {c.party.country}...) to the "
                              "client, as the client gave it to you")]
    problem = vat_problem(c.party.vat_id)
    if problem:
        return [c.loc.finding(("vat_id",), "E025", f"VAT id {c.party.vat_id} is not valid: {problem}",
                              "copy it again from the client's documents, with its country prefix (e.g. "
                              "ATU13585627); check it in VIES")]
    country = vat_country(c.party.vat_id)
    if seller is not None and country == seller:
        return [c.loc.finding(("vat_id",), "E026", f"VAT id {c.party.vat_id} is from the seller's own member "
                              f"state {seller}: reverse charge needs the client's id in another member state",
                              "use the VAT id the client is registered under in its own member state")]
    if s is not None and not s.seller.vat_id:
        return [c.loc.finding(where, "E026", "reverse charge needs the seller's VAT id on the invoice (VAT "
                              "directive art. 226 (3))", "add `vat_id:` under `seller:` in billed.yaml")]
    return []


def check_outside_eu(c: Client, s: Settings | None) -> list[Finding]:
    if c.tax != "outside_eu":
        return []
    seller = s.seller.country if s is not None else None
    if c.party.country in eu() or c.party.country == seller:
        return [c.loc.finding(("tax",), "E026", f"`outside_eu` is for clients outside the EU, but "
                              f"{c.party.country} is in it", "use `tax: reverse_charge` for a business client in "
                              "another member state, `tax: standard` otherwise")]
    return []


CLIENT_RULES: list[Callable[[Client, Settings | None], list[Finding]]] = [check_reverse_charge, check_outside_eu]
