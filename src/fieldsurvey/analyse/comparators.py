"""Comparator groups and staff counts of organisations, from their profiles and study settings.

A coalition reads an organisation's results against organisations like it, not only against
the whole field. :func:`comparator_groups` puts every organisation into one *comparator group*
(a partition, so that the group is one dimension of the report's cells): organisations that
share size band, main service type and region, coarsened step by step (service type dropped,
then region, then size) until each group holds at least :data:`MIN_GROUP` organisations.
Organisations left over at the last step join the largest group of their size band; with none,
they have no comparator group (:data:`NONE`) and their reports compare them with the whole
field only.

Size band comes from the responses (as the report's ``size_band``); service type and region from
the organisation profile (``org-profile`` items ``op_service`` and ``op_region``, the latest
profile at or before the reported wave). :func:`staff_counts` gives each organisation's paid
staff per wave: the profile's ``op_staff``, or for the weighted wave the study's staff head
counts (``staff_counts`` in study.yaml), summed over roles.

Nothing here is a statistic of respondents: profiles describe organisations, and a comparator
group is a set of organisations every member can name.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from fieldsurvey.store import Study

__all__ = ["MIN_GROUP", "NONE", "comparator_groups", "group_description", "org_attributes",
           "staff_counts"]

#: Organisations a comparator group holds at least (the organisation and three others).
MIN_GROUP = 4
#: The comparator group of an organisation with no group of its own.
NONE = "none"
UNKNOWN = "not known"
#: Attributes, finest grouping first; each step drops the first attribute still in the key.
LEVELS: tuple[tuple[str, ...], ...] = (
    ("size_band", "service", "region"),
    ("size_band", "region"),
    ("size_band",),
)


def _profiles(study: Study) -> pd.DataFrame:
    from fieldsurvey.store.profiles import has_profiles, load_profiles

    if not has_profiles(study):
        return pd.DataFrame(columns=["org", "wave", "op_staff", "op_service", "op_region"])
    frame = load_profiles(study)
    return frame[["org", "wave", "op_staff", "op_service", "op_region"]].assign(
        org=frame["org"].astype(str), wave=frame["wave"].astype(str))


def _latest_profile(profiles: pd.DataFrame, waves: Sequence[str]) -> pd.DataFrame:
    """Each organisation's latest profile among ``waves`` (in study order)."""
    order = {w: i for i, w in enumerate(waves)}
    rows = profiles[profiles["wave"].isin(order)].copy()
    rows["_order"] = rows["wave"].map(order)
    return rows.sort_values("_order").groupby("org").tail(1).set_index("org")


def org_attributes(study: Study, sizes: pd.Series, waves: Sequence[str]) -> pd.DataFrame:
    """Size band, service type and region of each organisation (index: org).

    ``sizes`` maps organisation to size band; ``waves`` are the study's waves up to the
    reported one. Service type is the profile's label; unknown values read "not known".
    """
    from fieldsurvey.instrument import resolve_instrument

    labels = dict(resolve_instrument("org-profile").response_scales["service"].labels)
    latest = _latest_profile(_profiles(study), waves)
    out = pd.DataFrame({"size_band": sizes.astype(str)})
    service = pd.to_numeric(latest["op_service"], errors="coerce")
    out["service"] = [labels.get(int(service[o]), UNKNOWN)
                      if o in service.index and pd.notna(service[o]) else UNKNOWN
                      for o in out.index]
    out["region"] = [str(latest.at[o, "op_region"])
                     if o in latest.index and pd.notna(latest.at[o, "op_region"]) else UNKNOWN
                     for o in out.index]
    return out


def comparator_groups(attributes: pd.DataFrame, min_group: int = MIN_GROUP) -> pd.Series:
    """One comparator group per organisation (a partition of the organisations).

    At each level of :data:`LEVELS`, organisations not yet placed are grouped by the level's
    attributes; a group with at least ``min_group`` organisations is kept. Organisations left
    after the last level join the largest group of their size band, or get :data:`NONE`. Groups are named ``G1``, ``G2``, ... in order of
    their first member.

    Examples
    --------
    >>> a = pd.DataFrame({"size_band": ["s"] * 5 + ["m"] * 2, "service": ["x"] * 4 + ["y"] * 3,
    ...                   "region": ["1"] * 7}, index=[f"O{i}" for i in range(7)])
    >>> comparator_groups(a).tolist()
    ['G1', 'G1', 'G1', 'G1', 'G1', 'none', 'none']
    """
    group = pd.Series(NONE, index=attributes.index, dtype=object)
    placed: dict[tuple, str] = {}
    left = list(attributes.index)
    for level in LEVELS:
        keys = {o: (level, tuple(attributes.at[o, a] for a in level)) for o in left}
        counts = pd.Series(list(keys.values())).value_counts()
        for org in list(left):
            key = keys[org]
            if counts[key] >= min_group:
                placed.setdefault(key, f"G{len(placed) + 1}")
                group[org] = placed[key]
                left.remove(org)
    # Left over: join the largest group of the same size band, if there is one.
    for org in left:
        same = group[(attributes["size_band"] == attributes.at[org, "size_band"])
                     & (group != NONE)]
        if len(same):
            group[org] = same.value_counts().sort_index().idxmax()
    return group


def group_description(attributes: pd.DataFrame, groups: pd.Series, group: str) -> str:
    """What the organisations of a comparator group share, in words.

    Examples
    --------
    >>> a = pd.DataFrame({"size_band": ["15 to 44"] * 2, "service": ["Legal services", "x"],
    ...                   "region": ["2", "2"]}, index=["A", "B"])
    >>> group_description(a, pd.Series(["G1", "G1"], index=["A", "B"]), "G1")
    'size 15 to 44 respondents, region 2'
    """
    members = attributes.loc[groups[groups == group].index]
    parts = []
    for column, words in (("size_band", "size {} respondents"), ("service", "{}"),
                          ("region", "region {}")):
        values = members[column].unique()
        if len(values) == 1 and values[0] != UNKNOWN:
            parts.append(words.format(values[0]))
    return ", ".join(parts) or "no shared attribute"


def staff_counts(study: Study, waves: Sequence[str], weighted_wave: str) -> pd.DataFrame:
    """Paid staff of each organisation per wave, with where the number comes from.

    Columns ``org``, ``wave``, ``staff``, ``source``. The profile's head count (``op_staff``)
    of that wave comes first; the study's staff head counts (study.yaml ``staff_counts``,
    describing the staff at the weighted wave) fill that wave where no profile gives one.
    """
    profiles = _profiles(study)
    rows = profiles[profiles["wave"].isin(list(waves)) & profiles["op_staff"].notna()]
    out = pd.DataFrame({"org": rows["org"], "wave": rows["wave"],
                        "staff": pd.to_numeric(rows["op_staff"]).astype(float),
                        "source": "organisation profile"})
    table = study.staff_table()
    if table is not None and "staff" in table.columns:
        totals = table.assign(org=table["org"].astype(str)).groupby("org")["staff"].sum()
        have = set(out.loc[out["wave"] == weighted_wave, "org"])
        extra = pd.DataFrame({"org": totals.index, "wave": weighted_wave,
                              "staff": totals.to_numpy(dtype=float),
                              "source": f"study staff counts ({study.config.staff_counts})"})
        out = pd.concat([out, extra[~extra["org"].isin(have)]], ignore_index=True)
    return out.reset_index(drop=True)
