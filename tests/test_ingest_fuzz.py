"""Property test: mangled files never crash a reader and never lose a row silently.

Every read either raises ``IngestError`` naming the file and a row or column, or returns an
export where ``rows_read == len(data) + len(quarantine)``.
"""

from __future__ import annotations

import codecs
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldsurvey.ingest import PLATFORMS, IngestError, read_export
from fieldsurvey.io import read_table

QUALTRICS = (
    "StartDate,Status,Progress,Finished,ResponseId,IPAddress,Q1,Q2_TEXT\r\n"
    "Start Date,Response Type,Progress,Finished,Response ID,IP Address,Je suis épuisé,Why?\r\n"
    '"{""ImportId"":""startDate""}","{""ImportId"":""status""}","{""ImportId"":""progress""}",'
    '"{""ImportId"":""finished""}","{""ImportId"":""_recordId""}","{""ImportId"":""ipAddress""}",'
    '"{""ImportId"":""QID1""}","{""ImportId"":""QID2_TEXT""}"\r\n'
    '2024-01-01,0,100,1,R_1,1.2.3.4,4,"long, quoted\nanswer"\r\n'
    "2024-01-02,1,50,0,R_2,1.2.3.5,2,\r\n"
    "2024-01-03,0,100,1,R_3,1.2.3.6,5,ok\r\n"
)
REDCAP = (
    "record_id,name_first,pq01,pq02,supports___1,supports___2,wellbeing_complete\n"
    '1,Ann,3,4,1,0,2\n2,Bob,,5,0,1,1\n3,"Cy, Jr",1,1,0,0,0\n'
)
KOBO = (
    "start,end,grp/pq01,grp/pq02,sm,sm/a,sm/b,_gps_latitude,meta/instanceID,_uuid,_submission_time\n"
    "2024-01-01T10:00:00,2024-01-01T10:05:00,3,n/a,a,1,0,1.5,uuid:1,u1,2024-01-01T10:06:00\n"
    "2024-01-01T11:00:00,2024-01-01T11:03:00,2,4,a b,1,1,1.6,uuid:2,u2,2024-01-01T11:04:00\n"
)
LIMESURVEY = (
    "id;submitdate;lastpage;startlanguage;ipaddr;Q1;Q2[SQ001];Q3[other]\n"
    "1;2024-01-01 10:00:00;2;en;1.1.1.1;A1;Y;text\n2;;1;en;1.1.1.2;A2;;\n"
)
SURVEYMONKEY = (
    "Respondent ID,Collector ID,Start Date,End Date,IP Address,How often?,Which?,\n"
    ",,,,,Response,Supervision,Peer support\n"
    "11,22,01/01/2024 10:00:00 AM,01/01/2024 10:02:00 AM,1.1.1.1,Often,Supervision,\n"
)
BASES = [QUALTRICS, REDCAP, KOBO, LIMESURVEY, SURVEYMONKEY]
KOBO_JSON = (
    '[{"_uuid": "u1", "_submission_time": "2024-01-01T10:00:00", "grp/pq01": "3", '
    '"_attachments": [], "rep": [{"rep/x": "1"}]}, {"_uuid": "u2", "grp/pq01": null}]'
)
SURVEYMONKEY_JSON = (
    '{"data": [{"id": "1", "ip_address": "1.1.1.1", "response_status": "completed", '
    '"total_time": 10, "pages": [{"id": "p", "questions": [{"id": "q1", "answers": '
    '[{"choice_id": "c1"}]}, {"id": "q2", "answers": [{"text": "hello there"}]}]}]}, '
    '{"id": "2", "pages": []}], "page": 1}'
)
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252"]


@st.composite
def mangled_files(draw) -> bytes:
    text = draw(st.sampled_from(BASES))
    kind = draw(
        st.sampled_from(
            ["truncate", "splice", "delimiter", "bom", "mixed", "random", "drop_line", "as_is"]
        )
    )
    encoding = draw(st.sampled_from(ENCODINGS))
    if kind == "delimiter":
        old = ";" if ";" in text.split("\n")[0] else ","
        new = draw(st.sampled_from([";", "\t", "|", ","]))
        lines = text.split("\n")
        line = draw(st.integers(0, len(lines) - 1))
        lines[line] = lines[line].replace(old, new)
        text = "\n".join(lines)
    elif kind == "drop_line":
        lines = text.split("\n")
        del lines[draw(st.integers(0, len(lines) - 1))]
        text = "\n".join(lines)
    raw = text.encode(encoding, errors="replace")
    if kind == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif kind == "splice":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=12)) + raw[at:]
    elif kind == "bom":
        bom = draw(st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE]))
        raw = bom + raw
    elif kind == "mixed":
        raw = raw + "\n9,é,ü,ß\n".encode(draw(st.sampled_from(["cp1252", "utf-16-le"])))
    elif kind == "random":
        raw = draw(st.binary(max_size=400))
    return raw


def _check(call, path: Path) -> None:
    try:
        export = call()
    except IngestError as exc:
        assert exc.file == str(path)
        assert exc.row is not None or exc.column is not None, str(exc)
        return
    if hasattr(export, "rows_read"):
        assert export.rows_read == len(export.data) + len(export.quarantine)
        assert len(export.row_numbers) == len(export.data)


@st.composite
def mangled_json(draw) -> bytes:
    raw = draw(st.sampled_from([KOBO_JSON, SURVEYMONKEY_JSON])).encode()
    kind = draw(st.sampled_from(["truncate", "splice", "random", "as_is"]))
    if kind == "truncate":
        raw = raw[: draw(st.integers(0, len(raw)))]
    elif kind == "splice":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    elif kind == "random":
        raw = draw(st.binary(max_size=200))
    return raw


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=mangled_json(), forced=st.sampled_from([None, "kobo", "surveymonkey", "redcap"]))
def test_mangled_json_never_crashes_or_loses_rows(raw, forced):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.json"
        path.write_bytes(raw)
        _check(lambda: read_export(path, platform=forced), path)


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(raw=mangled_files(), forced=st.sampled_from([None, *PLATFORMS]))
def test_mangled_files_never_crash_or_lose_rows(raw, forced):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.csv"
        path.write_bytes(raw)
        _check(lambda: read_export(path, platform=forced), path)
        _check(lambda: read_table(path), path)
