"""Render a report document (.qmd) to self-contained HTML, PDF and DOCX.

Two engines read the same document:

* ``quarto`` - used when the ``quarto`` command is on PATH. Each report is copied with its
  figures into a private working folder (Quarto writes intermediate ``*_files`` folders next to
  the input, which collide when reports share a folder) and rendered with ``quarto render
  --to html|typst|docx``; options come from ``reports/_quarto.yml``.
* ``pandoc`` - the pandoc binary from the pypandoc-binary wheel: self-contained HTML (figures
  and stylesheet embedded as ``--embed-resources`` embeds them, see :mod:`.html_embed`), DOCX,
  and typst source compiled to PDF by the ``typst`` wheel. The typst/HTML options of
  ``reports/_quarto.yml`` are passed as pandoc metadata, and ``reports/fig-alt.lua`` gives
  images the ``fig-alt`` text as their alt attribute, so both engines lay reports out alike.
  One pandoc run reads the markdown once and writes every format (the Lua filter writes those
  besides the run's own output).

Outputs carry no wall-clock time: ``SOURCE_DATE_EPOCH`` (from the environment, else the
document's ``date``, else 0) is set for every subprocess and used as the PDF timestamp, and
typst sees only the fonts bundled with typst and matplotlib, never system fonts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

from fieldsurvey.errors import FieldsurveyError
from fieldsurvey.report.html_embed import embed_stylesheet, links_local_files
from fieldsurvey.report.timing import timed
from fieldsurvey.resources import data_dir

__all__ = [
    "FORMATS",
    "RenderError",
    "choose_engine",
    "read_front_matter",
    "render_report",
    "source_date_epoch",
]

FORMATS: tuple[str, ...] = ("html", "pdf", "docx")
_QUARTO_FORMAT = {"html": "html", "pdf": "typst", "docx": "docx"}
# Keys of _quarto.yml that are Quarto options rather than template variables.
_QUARTO_ONLY = {"embed-resources", "css", "reference-doc", "toc", "toc-title", "toc-depth"}
# Pipe tables whose source lines are longer than pandoc's --columns get fixed relative widths
# from their dash counts, which squeezed short numbers under long headers until they collided
# in the PDF. With a width no table reaches, every table gets automatic column widths: typst
# sizes columns to their content and wraps only text cells.
_READER_COLUMNS = "--columns=100000"
# Environment variable naming the formats reports/fig-alt.lua writes besides pandoc's output.
SIDE_OUTPUTS = "FIELDSURVEY_SIDE_OUTPUTS"
# Markdown reader extensions that act only where their trigger text occurs, which report
# documents seldom hold. pandoc's reader tries each of them at every character: a document
# without a trigger is read with those extensions off, to the same syntax tree, in about a
# third less time. Any occurrence of a trigger keeps its extensions on.
_UNTRIGGERED: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"~"), ("subscript", "strikeout")),
    (re.compile(r"\^"), ("superscript", "inline_notes")),
    (re.compile(r"\$"), ("tex_math_dollars",)),
    (re.compile(r"\\[A-Za-z]"), ("raw_tex", "latex_macros")),
    (re.compile(r"@"), ("citations", "example_lists")),
    (re.compile(r":[\w+-]+:"), ("emoji",)),
    (re.compile(r"<span", re.IGNORECASE), ("native_spans",)),
    (re.compile(r"\]\{"), ("bracketed_spans",)),
    (re.compile(r"\{="), ("raw_attribute",)),
    (re.compile(r"\*\["), ("abbreviations",)),
)

Engine = Literal["auto", "quarto", "pandoc"]


class RenderError(FieldsurveyError, RuntimeError):
    """Rendering failed; the message names the engine, the command and the tool's stderr.

    Attributes
    ----------
    engine : str
    command : list of str
    stderr : str
    returncode : int or None
    """

    def __init__(
        self,
        engine: str,
        command: Sequence[str],
        stderr: str,
        returncode: int | None = None,
        document: Path | None = None,
    ) -> None:
        self.engine = engine
        self.command = list(command)
        self.stderr = stderr
        self.returncode = returncode
        status = f" (exit code {returncode})" if returncode is not None else ""
        what = f" rendering {document}" if document else ""
        super().__init__(
            f"{engine} failed{what}{status}\ncommand: {shlex.join(self.command)}\n"
            f"stderr:\n{stderr.strip() or '(empty)'}"
        )


def read_front_matter(document: str | Path) -> dict:
    """Return the YAML header of a markdown/qmd document as a dict (empty if none).

    Examples
    --------
    >>> read_front_matter("report.qmd")["title"]  # doctest: +SKIP
    'Staff wellbeing survey 2026'
    """
    text = Path(document).read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}
    end = text.find("\n---\n", 4)
    if end < 0:
        raise ValueError(f"{document}: YAML header opened with '---' is never closed")
    meta = yaml.safe_load(text[4:end]) or {}
    if not isinstance(meta, dict):
        raise ValueError(f"{document}: YAML header is not a mapping")
    return meta


def source_date_epoch(meta: dict | None = None) -> int:
    """The timestamp written into outputs: ``SOURCE_DATE_EPOCH`` if set, else midnight UTC of
    the document's ``date`` (YYYY-MM-DD), else 0.

    Examples
    --------
    >>> source_date_epoch({"date": "2026-01-01"})  # with SOURCE_DATE_EPOCH unset
    1767225600
    """
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        return int(env)
    date = (meta or {}).get("date")
    if isinstance(date, dt.date):
        date = date.isoformat()
    if isinstance(date, str):
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            return 0
        return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
    return 0


def choose_engine(engine: Engine = "auto") -> str:
    """Resolve ``"auto"`` to ``"quarto"`` when it is on PATH, else ``"pandoc"``."""
    if engine == "auto":
        return "quarto" if shutil.which("quarto") else "pandoc"
    if engine not in ("quarto", "pandoc"):
        raise ValueError(f"unknown report engine {engine!r}; use 'auto', 'quarto' or 'pandoc'")
    return engine


@cache
def _quarto_options() -> dict:
    config = yaml.safe_load((data_dir("reports") / "_quarto.yml").read_text(encoding="utf-8"))
    return config.get("format", {}) or {}


@cache
def _pandoc_path() -> str:
    import pypandoc

    return pypandoc.get_pandoc_path()


def _font_dir() -> str:
    import matplotlib

    # DejaVu Sans ships with matplotlib: the same font in figures and PDF text, on any machine.
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf")


def _environment(epoch: int) -> dict[str, str]:
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = str(epoch)
    return env


def render_report(
    document_path: str | Path,
    formats: Sequence[str] = FORMATS,
    engine: Engine = "auto",
    out_dir: str | Path | None = None,
) -> dict[str, Path]:
    """Render one report document to each requested format.

    Parameters
    ----------
    document_path : str or Path
        The ``.qmd`` written by :class:`~fieldsurvey.report.document.ReportDocument`; figure
        paths inside it are relative to its folder.
    formats : sequence of {"html", "pdf", "docx"}
        Outputs to produce. HTML is self-contained (images and CSS embedded).
    engine : {"auto", "quarto", "pandoc"}
        ``auto`` uses Quarto when installed, else pandoc + typst.
    out_dir : str or Path, optional
        Where outputs go (``<stem>.html`` etc.); default the document's folder.

    Returns
    -------
    dict of str to Path
        Format to output file.

    Raises
    ------
    RenderError
        A tool failed or warned (missing image, bad syntax); the message holds the engine,
        the command and its stderr.

    Examples
    --------
    >>> render_report("out/acme.qmd", formats=("html", "pdf"))  # doctest: +SKIP
    {'html': PosixPath('out/acme.html'), 'pdf': PosixPath('out/acme.pdf')}
    """
    document = Path(document_path).resolve()
    if not document.is_file():
        raise FileNotFoundError(f"report document not found: {document}")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ValueError(f"unknown report format(s) {unknown or formats}; choose from {FORMATS}")
    target = Path(out_dir).resolve() if out_dir is not None else document.parent
    target.mkdir(parents=True, exist_ok=True)
    epoch = source_date_epoch(read_front_matter(document))
    chosen = choose_engine(engine)
    if chosen == "quarto":
        return _render_quarto(document, list(dict.fromkeys(formats)), target, epoch)
    return _render_pandoc(document, list(dict.fromkeys(formats)), target, epoch)


# --------------------------------------------------------------------------------------------
# pandoc engine
# --------------------------------------------------------------------------------------------


def _pandoc_command(document: Path, fmt: str, output: Path, metadata_file: Path | None,
                    *, embed: bool = True) -> list[str]:
    """One pandoc run: the markdown ``document`` to ``fmt`` (the formats named in
    ``FIELDSURVEY_SIDE_OUTPUTS`` are written by ``reports/fig-alt.lua`` in the same run).
    ``embed=False``: HTML without pandoc's embedding pass (see :mod:`.html_embed`)."""
    reports = data_dir("reports")
    texts = [document.read_text(encoding="utf-8")]
    if metadata_file is not None:  # its values are read as markdown too
        texts.append(metadata_file.read_text(encoding="utf-8"))
    command = [
        _pandoc_path(),
        str(document),
        f"--from={reader_format(*texts)}",
        "--fail-if-warnings",
        _READER_COLUMNS,  # also the writers' line width
        f"--resource-path={document.parent}",
        f"--lua-filter={reports / 'fig-alt.lua'}",
    ]
    if metadata_file is not None:
        command.append(f"--metadata-file={metadata_file}")
    if fmt == "html":
        command += ["--to=html5", "--standalone"]
        stylesheet = _stylesheet()
        if embed:
            command.append("--embed-resources")
            if stylesheet is not None:
                command.append(f"--css={stylesheet}")
        html = _quarto_options().get("html", {})
        if html.get("toc"):
            # The title as a template variable, not metadata: the formats written alongside
            # from the same syntax tree must not see it.
            command += ["--toc", f"--toc-depth={html.get('toc-depth', 2)}",
                        f"--variable=toc-title:{html.get('toc-title', 'Contents')}"]
    elif fmt == "docx":
        command += ["--to=docx"]
    elif fmt == "typst":
        command += ["--to=typst", "--standalone"]
    command.append(f"--output={output}")
    return command


def reader_format(*texts: str) -> str:
    """pandoc's markdown reader without the extensions none of ``texts`` can trigger.

    Examples
    --------
    >>> reader_format("Burnout: *withheld* for 12 staff.")[:40]
    'markdown-subscript-strikeout-superscript'
    >>> "tex_math_dollars" in reader_format("costs $12")
    False
    """
    off = [ext for pattern, extensions in _UNTRIGGERED
           if not any(pattern.search(text) for text in texts) for ext in extensions]
    return "markdown" + "".join(f"-{ext}" for ext in off)


def _stylesheet() -> Path | None:
    css = _quarto_options().get("html", {}).get("css")
    return data_dir("reports") / css if css else None


def _write_html(document: Path, output: Path, metadata_file: Path | None,
                env: dict[str, str]) -> None:
    """The HTML (and the formats written alongside): figures embedded by the Lua filter, the
    stylesheet here; pandoc's own embedding pass only for a page that needs it."""
    _run_pandoc(_pandoc_command(document, "html", output, metadata_file, embed=False),
                document, env)
    stylesheet = _stylesheet()
    html = embed_stylesheet(output.read_text(encoding="utf-8"), _pandoc_path(), stylesheet)
    if html is None or links_local_files(html):
        env = {**env, SIDE_OUTPUTS: "[]"}  # the other formats are written already
        _run_pandoc(_pandoc_command(document, "html", output, metadata_file), document, env)
    else:
        output.write_text(html, encoding="utf-8")


def _metadata_for(fmt: str, folder: Path) -> Path | None:
    options = _quarto_options().get(fmt)
    if not isinstance(options, dict):
        return None
    meta = {k: v for k, v in options.items() if k not in _QUARTO_ONLY}
    if not meta:
        return None
    path = folder / f"{fmt}-metadata.yaml"
    path.write_text(yaml.safe_dump(meta, sort_keys=True), encoding="utf-8")
    return path


def _run_pandoc(command: list[str], document: Path, env: dict[str, str]) -> None:
    """Run pandoc; a failure (or, with --fail-if-warnings, a warning) raises RenderError."""
    result = subprocess.run(command, cwd=document.parent, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, check=False)
    if result.returncode != 0:
        raise RenderError("pandoc", command, result.stderr.decode("utf-8", "replace"),
                          result.returncode, document)


@timed("pandoc")
def _render_pandoc(document: Path, formats: list[str], target: Path, epoch: int) -> dict[str, Path]:
    env = _environment(epoch)
    outputs: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="fieldsurvey-report-") as tmp:
        work = Path(tmp)
        # Write into the private folder first so a failed run never leaves half a file; the
        # PDF goes via typst source.
        writer = {fmt: "typst" if fmt == "pdf" else fmt for fmt in formats}
        staged = {fmt: work / f"{document.stem}.{'typ' if fmt == 'pdf' else fmt}"
                  for fmt in formats}
        # Reading the markdown is most of pandoc's time: one run reads it once and writes
        # every format. The run's own output is HTML when asked for (it needs options only
        # the command line has: --embed-resources, --css, --toc), else DOCX, else typst (a
        # metadata file on the command line would reach every format); the Lua filter writes
        # the others from the same syntax tree.
        main, *others = sorted(formats, key=("html", "docx", "pdf").index)
        sides = []
        for fmt in others:
            side = {"format": writer[fmt], "output": str(staged[fmt])}
            metadata = _metadata_for(writer[fmt], work)
            if metadata is not None:
                side["metadata"] = str(metadata)
            sides.append(side)
        env[SIDE_OUTPUTS] = json.dumps(sides)
        metadata = _metadata_for(writer[main], work)
        if main == "html":
            _write_html(document, staged[main], metadata, env)
        else:
            _run_pandoc(_pandoc_command(document, writer[main], staged[main], metadata),
                        document, env)
        for fmt in formats:
            final = target / f"{document.stem}.{fmt}"
            if fmt == "pdf":
                final.write_bytes(_compile_typst(staged[fmt], document, epoch))
            else:
                shutil.move(staged[fmt], final)
            outputs[fmt] = final
    return outputs


@cache
def _typst_compiler() -> tuple[object, threading.Lock]:
    """One typst compiler per process, reused for every PDF: typst keeps what it made for one
    report (fonts read, the standard library and the template's styles evaluated) for the
    next, about an eighth of a report's compile time. It reads every source and image again
    at each compile (a figure redrawn at the same path is seen), and writes the bytes a fresh
    compiler writes."""
    import typst

    fonts = typst.Fonts(include_system_fonts=False, include_embedded_fonts=True,
                        font_paths=[_font_dir()])
    # The compiler holds mutable state: one compile at a time.
    return typst.Compiler(font_paths=fonts, ignore_system_fonts=True), threading.Lock()


@timed("typst")
def _compile_typst(source: Path, document: Path, epoch: int) -> bytes:
    compiler, lock = _typst_compiler()
    try:
        # Bytes input with root = the document folder: figure paths resolve as in the document.
        with lock:
            return compiler.compile(
                input=source.read_bytes(), root=str(document.parent), timestamp=epoch
            )
    except Exception as exc:  # typst raises its own TypstError; keep its message
        command = [
            "typst.Compiler.compile",
            str(source),
            f"root={document.parent}",
            f"font_paths=[{_font_dir()}]",
            "ignore_system_fonts=True",
            f"timestamp={epoch}",
        ]
        raise RenderError("pandoc+typst", command, str(exc), None, document) from exc


# --------------------------------------------------------------------------------------------
# Quarto engine
# --------------------------------------------------------------------------------------------


def _referenced_files(document: Path) -> list[str]:
    """Relative paths of local images the document links, for copying into the work folder."""
    import re

    text = document.read_text(encoding="utf-8")
    paths = re.findall(r"!\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)\)", text)
    return [p for p in paths if "://" not in p and not p.startswith("data:")]


def _render_quarto(document: Path, formats: list[str], target: Path, epoch: int) -> dict[str, Path]:
    quarto = shutil.which("quarto")
    if quarto is None:
        raise RenderError("quarto", ["quarto", "render"], "quarto is not on PATH")
    env = _environment(epoch)
    reports = data_dir("reports")
    outputs: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix=f".quarto-{document.stem}-", dir=target) as tmp:
        work = Path(tmp)
        shutil.copyfile(document, work / document.name)
        for relative in _referenced_files(document):
            source = (document.parent / relative).resolve()
            if source.is_file():
                (work / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, work / relative)
        shutil.copyfile(reports / "_quarto.yml", work / "_quarto.yml")
        css = _quarto_options().get("html", {}).get("css")
        if css:
            shutil.copyfile(reports / css, work / css)
        for fmt in formats:
            command = [quarto, "render", document.name, "--to", _QUARTO_FORMAT[fmt]]
            result = subprocess.run(command, cwd=work, env=env, capture_output=True, check=False)
            if result.returncode != 0:
                raise RenderError(
                    "quarto",
                    command,
                    result.stderr.decode("utf-8", "replace"),
                    result.returncode,
                    document,
                )
            produced = work / f"{document.stem}.{fmt}"
            if not produced.is_file():
                raise RenderError(
                    "quarto",
                    command,
                    f"quarto exited 0 but wrote no {produced.name}\n"
                    + result.stderr.decode("utf-8", "replace"),
                    result.returncode,
                    document,
                )
            final = target / produced.name
            shutil.move(produced, final)
            outputs[fmt] = final
    return outputs
