"""read_table: every supported file format, read as it comes, with clear errors."""

from __future__ import annotations

import base64
import zlib

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from fieldsurvey.ingest import IngestError
from fieldsurvey.io import numeric_where_lossless, read_data, read_table

# A 3-row SAS dataset (pq01 = 1, 2, 5; team = a, b, c) written for this test by R's
# haven::write_sas; pyreadstat can read but not write .sas7bdat. zlib + base64.
SAS7BDAT = (
    "eNrt2r1Lw0AYx/GnL2CKDi106CBYOnUokqAIgmACVhDq1P4BVhF0UBQUHXV3Ev8MN2dBXBwdXNzcxcFJB1/ixTtJ"
    "exrr5tv3U8LT++Weg4YEUjiR2On17txRsXB+vO9I7szbKw3lCyMiFUmJJ58qdo2aQbM8PdOoTwWtoFlvlZNID1G/"
    "nrdzUdm6CuJqiVbKi6SteHzY9Vxv1lV1VNWxxvLq5rYAAAAAAAAAAAAAAPAf9amPyOWAHlUz3WdPTF6yug5MXnsL"
    "UrosJeQ1k09Y+U2/rr61/mFCDgAAAPwVzw/hq+/qf9TtYdXKHXVk1Qu70/HqnrV245rWMP6fMKjmRMqmxp7ezVWz"
    "rD3Da+uut7HYXrlTorG99/de+cpvypmaSTif7rVA/uM4tHD34ldKdT4Zt5Nt882f17XoL3CNAAAAAAD44V4AMfJp"
    "zw=="
)


def test_csv_utf8_bom_semicolon(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("pq01;pq02;team\n1;5;Équipe A\n3;;007\n", encoding="utf-8-sig")
    table = read_data(path)
    frame = table.frame
    assert list(frame.columns) == ["pq01", "pq02", "team"]
    assert frame["pq01"].tolist() == [1.0, 3.0]
    assert frame["pq02"].isna().tolist() == [False, True]
    assert frame["team"].tolist() == ["Équipe A", "007"]  # leading zero kept: stays text
    assert table.row_numbers.tolist() == [2, 3]
    assert not frame.attrs  # pandas deep-copies attrs on every operation: nothing rides there


def test_csv_utf16_tab_and_cp1252_comma(tmp_path):
    utf16 = tmp_path / "items_utf16.txt"
    utf16.write_text("pq01\tpq02\n4\t2\n", encoding="utf-16")
    assert read_table(utf16)["pq02"].tolist() == [2.0]
    latin = tmp_path / "items_cp1252.csv"
    latin.write_bytes("id,pq01,note\nA,2,déjà vu\n".encode("cp1252"))
    frame = read_table(latin)
    assert frame.loc[0, "note"] == "déjà vu"
    assert frame.loc[0, "pq01"] == 2.0


def test_csv_qualtrics_export_header_rows_are_skipped(tmp_path):
    path = tmp_path / "qualtrics.csv"
    path.write_text(
        "ResponseId,pq01\nResponse ID,I am happy\n"
        '"{""ImportId"":""_recordId""}","{""ImportId"":""QID1""}"\nR_1,4\n'
    )
    table = read_data(path)
    assert table.frame["pq01"].tolist() == [4.0]
    assert table.row_numbers.tolist() == [4]


def test_xlsx(tmp_path):
    path = tmp_path / "items.xlsx"
    pd.DataFrame({"pq01": [1, 2], "pq02": [5.5, None], "id": ["x", "y"]}).to_excel(
        path, index=False
    )
    frame = read_table(path)
    assert frame["pq01"].tolist() == [1.0, 2.0]
    assert frame["pq02"].tolist()[0] == 5.5 and np.isnan(frame["pq02"].tolist()[1])
    assert frame["id"].tolist() == ["x", "y"]


def _items() -> pd.DataFrame:
    return pd.DataFrame({"pq01": [1.0, 2.0, 99.0, np.nan], "team": ["a", "b", "c", "d"]})


@pytest.mark.parametrize("suffix", [".sav", ".zsav"])
def test_spss_user_missing_codes_kept_with_value_labels(tmp_path, suffix):
    path = tmp_path / f"items{suffix}"
    pyreadstat.write_sav(
        _items(),
        str(path),
        compress=suffix == ".zsav",
        missing_ranges={"pq01": [99]},
        variable_value_labels={"pq01": {1: "Never", 2: "Rarely", 99: "Refused"}},
        column_labels=["I am happy", "Team"],
    )
    table = read_data(path)
    frame = table.frame
    assert frame["pq01"].tolist()[:3] == [1.0, 2.0, 99.0]  # 99 stays a code, not NaN
    assert np.isnan(frame["pq01"].tolist()[3])
    assert table.missing_codes == {"pq01": [99.0]}
    assert table.value_labels["pq01"] == {"1": "Never", "2": "Rarely", "99": "Refused"}
    assert table.labels["pq01"] == "I am happy"
    assert np.isnan(table.answers()["pq01"].tolist()[2])  # declared missing: never scored
    assert table.row_numbers.tolist() == [1, 2, 3, 4]


def test_spss_portable_stata_and_xport(tmp_path):
    por, dta, xpt = tmp_path / "i.por", tmp_path / "i.dta", tmp_path / "i.xpt"
    pyreadstat.write_por(_items(), str(por))
    pyreadstat.write_dta(_items(), str(dta))
    pyreadstat.write_xport(_items(), str(xpt))
    assert read_table(por)["PQ01"].tolist()[:3] == [1.0, 2.0, 99.0]  # .por upper-cases names
    assert read_table(dta)["team"].tolist() == ["a", "b", "c", "d"]
    assert read_table(xpt)["pq01"].tolist()[2] == 99.0


def test_sas7bdat(tmp_path):
    path = tmp_path / "items.sas7bdat"
    path.write_bytes(zlib.decompress(base64.b64decode(SAS7BDAT)))
    frame = read_table(path)
    assert frame["pq01"].tolist() == [1.0, 2.0, 5.0]
    assert frame["team"].tolist() == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.sav", b"not really spss", "cannot read the .sav file"),
        ("bad.xlsx", b"PK\x03\x04junk", "the workbook is damaged or truncated"),
        ("empty.csv", b"", "the file is empty"),
        ("header.csv", b"pq01,pq02\n", "no responses"),
        ("short.csv", b"pq01,pq02\n1,2\n3\n", "row 3: malformed row: has 1 fields"),
        ("items.json", b"{}", "unsupported file type '.json'"),
    ],
)
def test_errors_name_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(IngestError, match=message) as caught:
        read_table(path)
    assert caught.value.file == str(path)
    assert name in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(IngestError, match="file not found"):
        read_table(tmp_path / "nope.csv")


def test_blank_lines_are_not_respondents(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("pq01\n1\n\n2\n\n")
    table = read_data(path)
    assert table.frame["pq01"].tolist() == [1.0, 2.0]
    assert table.row_numbers.tolist() == [2, 4]


def test_numeric_conversion_is_lossless_only():
    frame = pd.DataFrame({"a": ["1.50", "-2"], "b": ["1e3", "2"], "c": ["01", "2"]})
    out = numeric_where_lossless(frame)
    assert out["a"].tolist() == [1.5, -2.0]
    assert out["b"].tolist() == ["1e3", "2"]
    assert out["c"].tolist() == ["01", "2"]


def test_parquet(tmp_path):
    path = tmp_path / "items.parquet"
    _items().to_parquet(path)
    table = read_data(path)
    assert table.frame["pq01"].tolist()[:3] == [1.0, 2.0, 99.0]
    assert table.row_numbers.tolist() == [1, 2, 3, 4]


def test_text_columns_arrow_conversion_matches_pandas_rule(tmp_path):
    """The Arrow column conversion follows numeric_where_lossless exactly."""
    path = tmp_path / "items.csv"
    path.write_text("a,b,c,d,e,f\n1.50, 3 ,01,1e3,,x\n-2,4,2,2,,\n")
    frame = read_table(path)
    expected = numeric_where_lossless(pd.DataFrame(
        {"a": ["1.50", "-2"], "b": [" 3 ", "4"], "c": ["01", "2"], "d": ["1e3", "2"],
         "e": [None, None], "f": ["x", None]}))
    for column in frame.columns:
        assert frame[column].tolist() == expected[column].tolist() or (
            frame[column].isna().all() and expected[column].isna().all())
        assert frame[column].dtype.kind == expected[column].dtype.kind


def test_one_byte_answer_columns_read_from_arrow_buffers(tmp_path):
    """Single-digit columns take the buffer fast path; anything else falls back to the rule."""
    path = tmp_path / "items.csv"
    path.write_text("d,gap,mixed,letter,dash,blank\n1,,1,a,-,\n0,5,10,b,1,\n9,7,3,c,2,\n")
    frame = read_table(path)
    assert frame["d"].tolist() == [1.0, 0.0, 9.0]
    assert frame["gap"].tolist()[1:] == [5.0, 7.0] and np.isnan(frame["gap"].iloc[0])
    assert frame["mixed"].tolist() == [1.0, 10.0, 3.0]
    assert frame["letter"].tolist() == ["a", "b", "c"]
    assert frame["dash"].tolist() == ["-", "1", "2"]  # "-" is not a number: the column is text
    assert frame["blank"].isna().all() and frame["blank"].dtype.kind == "O"
