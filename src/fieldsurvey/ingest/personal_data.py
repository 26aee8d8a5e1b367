"""Personal data in a platform export: found by column name *and* by content, never stored.

By name, two layers decide: generic name patterns that apply to every platform (English and
the commonest other languages), and each platform's own list of system columns (passed in by
the platform reader). By content, every column is searched for e-mail addresses, phone
numbers, national insurance / social security number shapes, IP addresses, coordinates and
street addresses (:func:`personal_kind`); personal names are looked for only in free text
(:func:`redact_personal`), where a capitalised name is told from prose, and in response ids
(:func:`id_reason`). The reason recorded is the first rule that matched, so
``dropped_personal`` explains itself.

The name patterns work on a *normalised* name: case-folded, accents removed, everything but
letters and digits (of any script) removed, taken from the last segment of a group path
(``grp/phone`` -> ``phone``, ``Teléfono`` -> ``telefono``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fieldsurvey.instrument.answers import single_digit_codes

# (reason, pattern on the normalised last path segment). Order matters only for the reason text.
GENERIC_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("IP address", re.compile(r"^(ip|ipaddress|ipaddr|ipv4|ipv6|remoteaddr|direccionip|adresseip)$")),
    (
        "e-mail address",
        re.compile(r"e?mail(address|adresse|adres)?$|^email|^correo|^courriel|^mel$|^adressemail"
                   r"|^epost|^почта|^электроннаяпочта|^البريد|^电子邮件|^邮箱"),
    ),
    (
        "phone number",
        re.compile(r"(tele)?phone(number)?\d*$|^(mobile|cell)(number|phone)?\d*$|^tel(no|nr|num)?$"
                   r"|whatsapp|^(sms|viber|signal|telegram)$|^tele?fono|^telephone|^telefon"
                   r"|^celular|^movil|^portable$|^handy(nummer)?$|^cellulare|^телефон|^هاتف"
                   r"|^电话|^手机"),
    ),
    (
        "name of a person",
        re.compile(
            r"^(first|last|given|family|middle|full|sur|nick|maiden)name$|^name(first|last|full)?$"
            r"|^(respondent|participant|interviewer|enumerator|reporter|submitter|recipient|"
            r"contact|staff|employee|your|manager|supervisor)s?name"
            r"|^yourname|^(reporter|enumerator|interviewer|respondent|manager|supervisor"
            r"|linemanager|reportsto)$|^(nombre|apellidos?|nom|prenom|vorname|nachname"
            r"|familienname|cognome|nome|sobrenome|naam|voornaam|achternaam|imie|nazwisko)"
            r"(completo|complet|yapellidos?)?$|^(имя|фамилия|фио|الاسم|姓名|名字)$"
        ),
    ),
    (
        "contact details",
        re.compile(r"contact(details|info|information)?$|^emergencycontact|^contacto|^kontakt$"),
    ),
    (
        "location (GPS / coordinates)",
        re.compile(
            r"latitude|longitude|^(lat|lon|lng|long)$|^gps|^geo|geopoint|geolocation|geotrace"
            r"|geoshape|^locationaccuracy$|^coordinates?$|^coordenadas|^koordinaten"
        ),
    ),
    (
        "postal address",
        re.compile(
            r"^(street|streetaddress|address\d*|homeaddress|zip|zipcode|postcode|postalcode)$"
            r"|^(direccion|domicilio|adresse|anschrift|indirizzo|endereco|calle|rue|strasse"
            r"|codigopostal|postleitzahl|plz|cep|адрес|العنوان|地址)$"
        ),
    ),
    ("date of birth", re.compile(r"^(dob|dateofbirth|birthdate|birthday|fechadenacimiento"
                                 r"|datedenaissance|geburtsdatum|datadinascita"
                                 r"|datadenascimento)$")),
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
        re.compile(r"^(ssn|nationalid|passport\w*|staffid|employeeid|ni|nino|ninumber"
                   r"|nationalinsurance\w*|insurancenumber|socialsecurity\w*|sin|taxid|tin"
                   r"|dni|nie|nif|nss|curp|cpf|rut|pesel|bsn|personnummer|codicefiscale"
                   r"|numerosecuritesociale|sozialversicherungsnummer)$"),
    ),
]


def normalise_name(column: str) -> str:
    """Case-folded letters and digits (any script, accents removed) of the last path segment.

    Examples
    --------
    >>> normalise_name("contact/E-Mail Address"), normalise_name("Teléfono móvil")
    ('emailaddress', 'telefonomovil')
    """
    last = re.split(r"[/]", str(column))[-1]
    decomposed = unicodedata.normalize("NFKD", last.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


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


# ---------------------------------------------------------------------------------------------
# Personal data found by content
# ---------------------------------------------------------------------------------------------

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_NATIONAL = (r"\b[A-Za-z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-Da-d]\b"  # UK NI
             r"|\b\d{3}-\d{2}-\d{4}\b")  # US SSN
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IP = (rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?![\d.])"
       r"|\b(?=[0-9A-Fa-f:]*[A-Fa-f])(?:[0-9A-Fa-f]{1,4}:){3,7}[0-9A-Fa-f]{1,4}\b"
       r"|\b(?:[0-9A-Fa-f]{1,4}:){1,6}:(?:[0-9A-Fa-f]{1,4})?\b")
_COORDINATES = r"(?<![\d.])-?\d{1,2}\.\d{3,}\s*[,;\s]\s*-?\d{1,3}\.\d{3,}(?![\d.])"
_STREET_WORDS = (r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct"
                 r"|Place|Pl|Close|Crescent|Terrace|Square|Sq|Highway|Hwy|Gardens|Grove|Row")
_ADDRESS = (rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][\w'’-]*\s+){{1,4}}(?:{_STREET_WORDS})\b"
            r"|\b(?:Calle|Avenida|Av\.|Rue|Avenue|Boulevard|Via|Viale|Piazza|Rua|Carrer|Plaza)"
            r"\s+(?:[\w'’-]+\s+){0,4}?\d{1,5}\b"
            r"|\b\d{1,5},?\s+(?:rue|avenue|boulevard|chemin|allée|place)\s+[\w'’ -]{2,40}"
            r"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|weg|gasse|platz|allee)\s+\d{1,5}[a-z]?\b"
            r"|\b[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}\b")  # UK postcode
_PHONE_CANDIDATE = re.compile(r"(?<![\w/:.-])\+?\(?\d[\d ().\-]{6,20}\d(?![\w/:-])")
_DATE_SHAPE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")

#: (kind, pattern) searched in every cell; phone numbers are checked separately.
CONTENT_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("e-mail address", re.compile(_EMAIL)),
    ("national insurance / social security number", re.compile(_NATIONAL)),
    ("IP address", re.compile(_IP)),
    ("coordinates", re.compile(_COORDINATES)),
    ("street address", re.compile(_ADDRESS)),
]
_PLAIN_NUMBER = re.compile(r"-?\d{1,8}(?:[.,]\d+)?")


def _phone_matches(text: str) -> list[str]:
    """Phone-number shapes: 9 to 15 digits with a leading +, 00 or 0 or with separators, not a
    date. A bare run of digits not starting with 0 is left alone: platforms use those as ids
    (SurveyMonkey choice and respondent ids)."""
    found = []
    for match in _PHONE_CANDIDATE.finditer(text):
        number = match.group()
        digits = sum(ch.isdigit() for ch in number)
        dialled = number.startswith(("+", "0", "(")) or re.search(r"\d[ ().-]+\d", number)
        if 9 <= digits <= 15 and dialled and not _DATE_SHAPE.search(number):
            found.append(number)
    return found


def personal_kind(value: object) -> str | None:
    """The kind of personal data a cell holds (e-mail address, phone number, ...), or None.

    Examples
    --------
    >>> personal_kind("write to jo@example.org"), personal_kind("+44 7700 900123")
    ('e-mail address', 'phone number')
    >>> personal_kind("4"), personal_kind("2024-03-01 10:22:33") is None
    (None, True)
    """
    if not isinstance(value, str) or len(value) < 7 or _PLAIN_NUMBER.fullmatch(value.strip()):
        return None
    for kind, pattern in CONTENT_RULES:
        if pattern.search(value):
            return kind
    return "phone number" if _phone_matches(value) else None


#: A cheap superset of every content rule in RE2 syntax (no look-arounds), run by Arrow over
#: a column's distinct values: only the values it matches are checked with the exact rules.
_CANDIDATE = (r"@|\d[\d ().-]{6,20}\d|[A-Za-z]{2}\s?\d{2}\s?\d{2}\s?\d{2}|\d+\.\d+\.\d+\.\d+"
              r"|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:|\d\.\d{3,}|\d[A-Za-z]?,?\s+\S"
              r"|(?i:calle|avenida|av\.|rue|avenue|boulevard|via|viale|piazza|rua|carrer|plaza)\s"
              r"|(?i:straße|strasse|weg|gasse|platz|allee)\s+\d|[A-Z]{1,2}\d[A-Z\d]?\s\d[A-Z]{2}")


def _distinct(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(codes, distinct texts) of a column; missing is code -1."""
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    return codes, np.asarray(uniques, dtype=object)


def _matching(texts: np.ndarray, pattern: str) -> np.ndarray:
    """Which texts ``pattern`` (RE2) matches, run by Arrow."""
    if not len(texts):
        return np.zeros(0, dtype=bool)
    found = pc.match_substring_regex(pa.array(texts, type=pa.string()), pattern)
    return np.asarray(found.fill_null(False), dtype=bool)


def personal_hits(values: pd.Series) -> pd.Series:
    """The cells that hold personal data, with its kind: a Series indexed like ``values`` but
    holding only those cells (empty for the usual column). Checked once per distinct value,
    with the exact rules only where a fast Arrow pre-filter matches.

    Examples
    --------
    >>> personal_hits(pd.Series(["3", "a@b.org", None])).to_dict()
    {1: 'e-mail address'}
    """
    if values.dtype == "str" and single_digit_codes(pa.array(values), np.empty(len(values))):
        # Answer codes 0-9 are nobody's personal data: no need to look at each distinct value.
        return pd.Series([], dtype=object, index=values.index[:0])
    codes, texts = _distinct(values)
    candidates = np.flatnonzero(_matching(texts, _CANDIDATE))
    kinds = {int(i): personal_kind(texts[i]) for i in candidates}
    kinds = {i: kind for i, kind in kinds.items() if kind is not None}
    if not kinds:
        return pd.Series([], dtype=object, index=values.index[:0])
    rows = np.flatnonzero(np.isin(codes, list(kinds)))
    return pd.Series([kinds[int(c)] for c in codes[rows]], index=values.index[rows], dtype=object)


def personal_cells(values: pd.Series) -> pd.Series:
    """Per cell, the kind of personal data it holds, or None.

    Examples
    --------
    >>> personal_cells(pd.Series(["3", "a@b.org", None])).tolist()
    [None, 'e-mail address', None]
    """
    kinds = np.full(len(values), None, dtype=object)
    hits = personal_hits(values)
    kinds[values.index.get_indexer(hits.index)] = hits.to_numpy()
    return pd.Series(kinds, index=values.index, dtype=object)


def content_reason(values: pd.Series, min_share: float = 0.5,
                   hits: pd.Series | None = None) -> str | None:
    """Why a whole column is personal data by content, or None.

    A column is personal when at least ``min_share`` of its non-empty values hold personal data
    of one kind ("content: e-mail address in 40 of 41 values"). Columns with the odd match
    (an e-mail address in one comment) are handled cell by cell instead. ``hits`` (from
    :func:`personal_hits`) saves searching the column again.
    """
    hits = personal_hits(values) if hits is None else hits
    if hits.empty:
        return None
    present = int(values.astype("string").str.strip().replace("", pd.NA).notna().sum())
    counts = hits.value_counts()
    kind, count = counts.index[0], int(counts.iloc[0])
    if count / present < min_share:
        return None
    return f"content: {kind} in {count} of {present} values"


_NAME_WORD = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ'’]+(?:-[A-ZÀ-ÖØ-Þ]?[a-zà-öø-ÿ'’]+)*"
_PERSON_NAME = re.compile(rf"^{_NAME_WORD}(?:[ .]+{_NAME_WORD}){{1,3}}$")
_NAME_CUE = re.compile(
    rf"(?i:\b(?:my name is|i am|i'm|call me|contact|ask for|named|called|manager|supervisor"
    rf"|boss|director|colleague|mr|mrs|ms|miss|dr|prof|me llamo|mi nombre es|je m'appelle"
    rf"|mon nom est|ich heiße|mein name ist|mi chiamo))\.?\s+({_NAME_WORD}(?:\s+{_NAME_WORD})?)")
_CAPITALISED_PAIR = re.compile(rf"(?<![.!?:]\s)(?<!^)\b({_NAME_WORD}\s+{_NAME_WORD})\b")


def id_reason(ids: pd.Series) -> str | None:
    """Why a response-id column is personal data (any id that is an e-mail address, phone
    number, ... or a person's name), or None.

    Examples
    --------
    >>> id_reason(pd.Series(["R_1a2b", "jo@example.org"])), id_reason(pd.Series(["Jane Doe"]))
    ('e-mail address', 'name of a person')
    >>> id_reason(pd.Series(["R_1a2b", "17"])) is None
    True
    """
    kinds = personal_cells(ids).dropna()
    if not kinds.empty:
        return str(kinds.iloc[0])
    _, texts = _distinct(ids.astype("string").str.strip())
    if _matching(texts, rf"^{_PERSON_NAME.pattern[1:-1]}$").any():
        return "name of a person"
    return None


def redact_personal(text: str) -> str:
    """Free text with personal data replaced by its kind in brackets, names included.

    Names are looked for after cue words ("my manager", "Dr", "me llamo") and as pairs of
    capitalised words that do not open a sentence: prose loses a few place names with them,
    which is the side to err on.

    Examples
    --------
    >>> redact_personal("Talk to my manager Priya Raman on 07700 900123 or p.r@x.org.")
    'Talk to my manager [name] on [phone number] or [e-mail address].'
    """
    out = text
    for kind, pattern in CONTENT_RULES:
        out = pattern.sub(f"[{kind}]", out)
    for number in _phone_matches(out):
        out = out.replace(number, "[phone number]")
    out = _NAME_CUE.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + "[name]", out)
    return _CAPITALISED_PAIR.sub("[name]", out)


def shown_value(value: object, max_chars: int = 40) -> str:
    """A cell as it may be kept in quarantine or an error message: personal data withheld.

    Examples
    --------
    >>> shown_value("7"), shown_value("ring 07700 900123")
    ('7', '[withheld: phone number]')
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    text = str(value)
    kind = personal_kind(text)
    if kind is not None:
        return f"[withheld: {kind}]"
    if len(text) > max_chars:
        return f"[withheld: text of {len(text)} characters]"
    if _PERSON_NAME.fullmatch(text.strip()):
        return "[withheld: name of a person]"
    return text
