"""Instrument format: bundled library, validation errors, banding proofs, wording."""

from __future__ import annotations

import copy
import json

import pytest
import yaml
from click.testing import CliRunner

from fieldsurvey.cli import main
from fieldsurvey.instrument import (
    InstrumentError,
    attach_wording,
    bundled_instrument_ids,
    bundled_instrument_path,
    instrument_from_dict,
    load_instrument,
    resolve_instrument,
)

BASE = {
    "id": "toy",
    "title": "Toy",
    "version": "1",
    "citation": "Nobody (2026)",
    "licence": {"holder": "us", "terms": "CC BY 4.0", "wording_included": False},
    "response_scales": {
        "freq5": {
            "type": "likert",
            "min": 1,
            "max": 5,
            "labels": {1: "Never", 2: "Rarely", 3: "Sometimes", 4: "Often", 5: "Very Often"},
        },
        "cat": {"type": "categorical", "labels": {1: "A", 2: "B"}},
    },
    "items": [{"id": f"t{i}", "scale": "freq5"} for i in range(1, 5)]
    + [{"id": "c1", "scale": "cat"}],
    "scales": [
        {
            "id": "total",
            "label": "Total",
            "items": ["t1", "t2", "t3", "t4"],
            "method": "sum",
            "bands": [{"label": "Low", "max": 10}, {"label": "High", "min": 11}],
        }
    ],
}


def _errors(mutate) -> str:
    raw = copy.deepcopy(BASE)
    mutate(raw)
    with pytest.raises(InstrumentError) as info:
        instrument_from_dict(raw, filename="toy.yaml")
    return str(info.value)


def test_every_bundled_instrument_validates():
    ids = bundled_instrument_ids()
    assert {"proqol5", "cbi", "stss", "structural-conditions", "workforce-context"} <= set(ids)
    for inst_id in ids:
        inst = load_instrument(bundled_instrument_path(inst_id))
        assert inst.id == inst_id


def test_proqol5_key_matches_published_structure():
    inst = resolve_instrument("proqol5")
    cs, bo, sts = (inst.scale(s) for s in ("compassion_satisfaction", "burnout", "sts"))
    assert [int(i[2:]) for i in cs.items] == [3, 6, 12, 16, 18, 20, 22, 24, 27, 30]
    assert [int(i[2:]) for i in bo.items] == [1, 4, 8, 10, 15, 17, 19, 21, 26, 29]
    assert [int(i[2:]) for i in sts.items] == [2, 5, 7, 9, 11, 13, 14, 23, 25, 28]
    assert [int(it.id[2:]) for it in inst.items if it.reverse] == [1, 4, 15, 17, 29]
    assert [(b.label, b.min, b.max) for b in bo.bands] == [
        ("Low", None, 22),
        ("Moderate", 23, 41),
        ("High", 42, None),
    ]
    assert not inst.licence.wording_included and not inst.has_wording
    assert "www.proqol.org" in inst.licence.terms


def test_structural_conditions_has_three_items_per_subscale_and_reversals():
    inst = resolve_instrument("structural-conditions")
    assert len(inst.scales) >= 11
    for sc in inst.scales:
        assert sc.k >= 3
        assert any(inst.item(i).reverse for i in sc.items), sc.id
    assert inst.licence.wording_included and inst.has_wording


def test_workforce_context_marks_lived_experience_sensitive():
    inst = resolve_instrument("workforce-context")
    lived = inst.item("wf_lived_exp")
    assert lived.sensitive
    assert "Prefer not to say" in inst.response_scales[lived.scale].labels.values()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda r: r["scales"][0]["items"].append("t9"),
            "toy.yaml: scales[0].items[4]: unknown item 't9'",
        ),
        (
            lambda r: r["items"].append({"id": "t1", "scale": "freq5"}),
            "toy.yaml: items[5].id: duplicate item id 't1'",
        ),
        (
            lambda r: r["items"][4].update(reverse=True),
            "toy.yaml: items[4].reverse: item 'c1' is reverse-keyed",
        ),
        (
            lambda r: r["scales"][0].update(
                bands=[{"label": "Low", "max": 12}, {"label": "High", "min": 11}]
            ),
            "toy.yaml: scales[0].bands: bands overlap at possible scores: 11 (Low and High)",
        ),
        (
            lambda r: r["scales"][0].update(
                bands=[{"label": "Low", "max": 9}, {"label": "High", "min": 11}]
            ),
            "toy.yaml: scales[0].bands: possible scores fall in no band: 10",
        ),
        (
            lambda r: r["scales"][0].update(method="prorated_sum", min_answered=7),
            "toy.yaml: scales[0].min_answered: min_answered 7 is larger than the scale's 4 items",
        ),
        (
            lambda r: r["response_scales"]["freq5"]["labels"].update({6: "Always"}),
            "toy.yaml: response_scales.freq5.labels.6: code 6 lies outside min..max (1..5)",
        ),
        (
            lambda r: r["scales"][0].update(method="median"),
            "toy.yaml: scales[0].method: must be one of",
        ),
        (
            lambda r: r["scales"][0].update(min_answered=3),
            "toy.yaml: scales[0].min_answered: method 'sum' needs every item answered",
        ),
        (lambda r: r.pop("licence"), "toy.yaml: licence: is required"),
        (
            lambda r: r["items"][0].update(scale="nope"),
            "toy.yaml: items[0].scale: unknown response scale 'nope'",
        ),
    ],
)
def test_invalid_definitions_are_rejected_with_file_and_field(mutate, expected):
    assert expected in _errors(mutate)


def test_prorated_scores_between_printed_bands_need_a_rounding_rule():
    def prorate(r, rounding):
        r["scales"][0].update(method="prorated_sum", min_answered=3, band_rounding=rounding)

    message = _errors(lambda r: prorate(r, "none"))
    # 3 answered items summing to 8 prorate to 10.67, between Low <= 10 and High >= 11.
    assert "possible scores fall in no band: 10.67" in message
    assert "band_rounding" in message
    raw = copy.deepcopy(BASE)
    prorate(raw, "half_up")
    assert instrument_from_dict(raw).scale("total").band_rounding == "half_up"


def test_min_answered_as_proportion_is_resolved_to_a_count():
    raw = copy.deepcopy(BASE)
    raw["scales"][0].update(method="mean", min_answered=0.75, bands=None)
    assert instrument_from_dict(raw).scale("total").min_answered == 3


def test_every_language_must_cover_every_item():
    def texts(r):
        r["licence"]["wording_included"] = True
        for item in r["items"]:
            item["text"] = {"en": "x", "es": "y"}
        del r["items"][2]["text"]["es"]

    assert "toy.yaml: items[2].text: item 't3' has no wording in language 'es'" in _errors(texts)


def test_cli_show_json_has_yaml_keys():
    result = CliRunner().invoke(main, ["instrument", "show", "proqol5", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["id"] == "proqol5"
    assert set(data["response_scales"]) == {"freq5"}
    assert [i["id"] for i in data["items"]][:3] == ["pq01", "pq02", "pq03"]
    assert data["items"][0]["reverse"] is True and data["items"][0]["scale"] == "freq5"
    burnout = data["scales"][1]
    assert (burnout["id"], burnout["method"], burnout["min_answered"]) == (
        "burnout",
        "prorated_sum",
        8,
    )
    assert burnout["bands"][0] == {"label": "Low", "min": None, "max": 22}


def test_cli_validate_reports_errors_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    raw = copy.deepcopy(BASE)
    raw["scales"][0]["items"].append("t31")
    bad.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["instrument", "validate", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml: scales[0].items[4]: unknown item 't31'" in result.output
    assert "Traceback" not in result.output


def test_cli_list_names_every_bundled_instrument():
    result = CliRunner().invoke(main, ["instrument", "list", "--format", "json"])
    rows = json.loads(result.output)
    assert {r["id"]: r["wording"] for r in rows}["proqol5"] == "not included"
    assert {r["id"]: r["items"] for r in rows}["proqol5"] == 30


def test_attached_wording_is_checked_and_merged(tmp_path):
    wording = tmp_path / "w.yaml"
    items = {f"pq{i:02d}": f"placeholder wording {i}" for i in range(1, 31)}
    wording.write_text(yaml.safe_dump({"items": items}))
    attach_wording("proqol5", wording)
    assert resolve_instrument("proqol5", with_wording=True).item("pq07").text == {
        "en": "placeholder wording 7"
    }
    assert resolve_instrument("proqol5").item("pq07").text is None
    del items["pq30"]
    wording.write_text(yaml.safe_dump({"items": items}))
    with pytest.raises(InstrumentError, match="w.yaml: items.pq30: missing wording"):
        attach_wording("proqol5", wording)
