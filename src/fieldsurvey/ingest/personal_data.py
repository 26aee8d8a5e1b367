"""Which columns of a platform export hold personal data (and so never enter ``data``).

Two layers decide: generic name patterns that apply to every platform, and each platform's own
list of system columns (passed in by the platform reader). A column is personal if either says
so. The reason recorded is the first rule that matched, so ``dropped_personal`` explains itself.

The patterns work on a *normalised* name: lower case with everything but letters and digits
removed, taken from the last segment of a group path (``grp/phone`` -> ``phone``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

# (reason, pattern on the normalised last path segment). Order matters only for the reason text.
GENERIC_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("IP address", re.compile(r"^(ip|ipaddress|ipaddr|ipv4|ipv6|remoteaddr)$")),
    ("e-mail address", re.compile(r"e?mail(address)?$|^email")),
    ("phone number", re.compile(r"(tele)?phone(number)?\d*$|^(mobile|cell)(number|phone)?\d*$")),
    (
        "name of a person",
        re.compile(
            r"^(first|last|given|family|middle|full|sur|nick|maiden)name$|^name(first|last|full)?$"
            r"|^(respondent|participant|interviewer|enumerator|reporter|submitter|recipient|"
            r"contact|staff|employee|your)name$|^(reporter|enumerator|interviewer)$"
        ),
    ),
    (
        "location (GPS / coordinates)",
        re.compile(
            r"latitude|longitude|^(lat|lon|lng|long)$|^gps|geopoint|geolocation|geotrace"
            r"|geoshape|^locationaccuracy$|^coordinates?$"
        ),
    ),
    (
        "postal address",
        re.compile(
            r"^(street|streetaddress|address\d*|homeaddress|zip|zipcode|postcode|postalcode)$"
        ),
    ),
    ("date of birth", re.compile(r"^(dob|dateofbirth|birthdate|birthday)$")),
    (
        "device identifier / user agent",
        re.compile(
            r"useragent|^(device|deviceid|imei|simserial|subscriberid|phonenumber|macaddress)$"
            r"|^(browser|operatingsystem|resolution)$"
        ),
    ),
    (
        "recipient / external reference",
        re.compile(r"^recipient|externalreference|externaldatareference|^externalid$|^extref$"),
    ),
    (
        "national or staff identifier",
        re.compile(r"^(ssn|nationalid|passport\w*|staffid|employeeid)$"),
    ),
]


def normalise_name(column: str) -> str:
    """Lower-case letters and digits of the last path segment of a column name.

    Examples
    --------
    >>> normalise_name("contact/E-Mail Address")
    'emailaddress'
    """
    last = re.split(r"[/]", str(column))[-1]
    return re.sub(r"[^a-z0-9]", "", last.lower())


def generic_reason(column: str) -> str | None:
    """The reason a column name looks like personal data, or None.

    Examples
    --------
    >>> generic_reason("IPAddress")
    'IP address'
    >>> generic_reason("pq01") is None
    True
    """
    name = normalise_name(column)
    for reason, pattern in GENERIC_RULES:
        if pattern.search(name):
            return reason
    return None


def find_personal_columns(
    columns: Iterable[str],
    platform_rules: Mapping[str, str] | None = None,
    keep: Iterable[str] = (),
) -> dict[str, str]:
    """Map each personal-data column to the reason it is personal.

    Parameters
    ----------
    columns : iterable of str
        Column names of the export.
    platform_rules : mapping, optional
        Column -> reason decided by the platform reader (its own system columns, a REDCap
        dictionary's identifier flag, ...). These win over the generic patterns.
    keep : iterable of str
        Columns never treated as personal (e.g. the response id).

    Returns
    -------
    dict
        ``{column: reason}`` in column order.

    Examples
    --------
    >>> find_personal_columns(["ResponseId", "IPAddress", "Q1"], {"Q1": "test"}, keep=["ResponseId"])
    {'IPAddress': 'generic pattern: IP address', 'Q1': 'test'}
    """
    platform_rules = dict(platform_rules or {})
    keep = set(keep)
    found: dict[str, str] = {}
    for column in columns:
        if column in keep:
            continue
        if column in platform_rules:
            found[column] = platform_rules[column]
            continue
        reason = generic_reason(column)
        if reason is not None:
            found[column] = f"generic pattern: {reason}"
    return found
