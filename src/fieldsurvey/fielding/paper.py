"""Printable paper forms: PDF (Typst) and DOCX (python-docx).

The form opens with the consent paragraph and an "I agree" box; each instrument follows with its
title, recall period and licence notice; Likert runs are tables with one answer box per code
(the code printed in the box, so data entry types what is ticked); other items list their
answer boxes, or a line to write on. Item ids are printed small beside each question so the
person entering the data knows the field name. One language per form: the plan's first.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.shared import Pt

from fieldsurvey.fielding.notices import FieldingError
from fieldsurvey.fielding.plan import Block, FormPlan, Question
from fieldsurvey.fielding.typst_doc import compile_pdf, tstr

BOX = "\u2610"  # ballot box, for the DOCX form


def write_paper(plan: FormPlan, out: Path) -> Path:
    """Write a printable form; the suffix of ``out`` chooses ``.pdf`` or ``.docx``.

    Examples
    --------
    >>> from fieldsurvey.instrument import resolve_instrument
    >>> from fieldsurvey.fielding.plan import build_plan
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "form.docx"
    >>> write_paper(build_plan([resolve_instrument("workforce-context")]), out).suffix
    '.docx'
    """
    suffix = out.suffix.lower()
    if suffix == ".pdf":
        return compile_pdf(paper_typst(plan), out)
    if suffix == ".docx":
        return write_paper_docx(plan, out)
    raise FieldingError(f"{out.name}: a paper form is written as .pdf or .docx")


def paper_typst(plan: FormPlan) -> str:
    """The Typst source of the paper form."""
    lang = plan.default_language
    lines = [
        '#set page(paper: "a4", margin: (x: 1.8cm, y: 1.8cm), numbering: "1 / 1")',
        f'#set text(size: 10pt, lang: "{lang}")',
        "#let answerbox(code) = box(width: 1.5em, height: 1.3em, stroke: 0.6pt, inset: 1pt,"
        " align(center + horizon, text(size: 6pt, fill: gray, code)))",
        "#let itemid(id) = text(size: 6.5pt, fill: gray, id)",
        f'#align(center, text(size: 15pt, weight: "bold", {tstr(plan.title)}))',
        '#heading(level: 2, "Consent")',
        f"#par({tstr(plan.consent)})",
        f'#answerbox("") #h(0.5em) #{tstr("I agree to take part.")}',
    ]
    for section in plan.sections:
        lines.append(f"#heading(level: 1, {tstr(section.title)})")
        lines.append(f"#text(size: 7.5pt, {tstr(section.notice)})")
        if section.recall:
            lines.append(f"#par(emph({tstr(section.recall)}))")
        for block in section.blocks:
            lines.append(_typst_block(block, lang))
    return "\n\n".join(lines) + "\n"


def _typst_block(block: Block, lang: str) -> str:
    if block.matrix:
        choices = block.questions[0].choices
        head = ["[]", "[]"] + [
            f"align(center, text(size: 7pt, {tstr(label)}))" for _, label in choices
        ]
        cells = []
        for q in block.questions:
            cells.append(f"itemid({tstr(q.id)})")
            cells.append(f"text({tstr(q.text[lang])})")
            cells.extend(f"align(center, answerbox({tstr(code)}))" for code, _ in choices)
        cols = "(auto, 1fr, " + ", ".join(["2.6em"] * len(choices)) + ")"
        return (
            f"#table(columns: {cols}, stroke: (x, y) => if y > 0 {{ (top: 0.3pt + gray) }},"
            f" inset: 4pt, align: horizon,\n  table.header({', '.join(head)}),\n  "
            + ",\n  ".join(cells)
            + ")"
        )
    q = block.questions[0]
    parts = [
        f"#block(breakable: false)[#itemid({tstr(q.id)}) #h(0.4em) #strong({tstr(q.text[lang])})"
    ]
    if q.hint:
        parts.append(f" \\ #text(size: 8pt, {tstr(q.hint)})")
    if q.kind == "choice":
        for code, label in q.choices:
            parts.append(f" \\ #answerbox({tstr(code)}) #h(0.4em) #{tstr(label)}")
    else:
        parts.append(" \\ #box(width: 60%, height: 1.6em, stroke: (bottom: 0.6pt))")
        if q.min is not None or q.max is not None:
            parts.append(f" #text(size: 8pt, {tstr(_range(q))})")
    parts.append("]")
    return "".join(parts)


def _range(q: Question) -> str:
    lo = "" if q.min is None else f"{q.min:g}"
    hi = "" if q.max is None else f"{q.max:g}"
    return f"({lo} to {hi})"


def write_paper_docx(plan: FormPlan, out: Path) -> Path:
    """Write the paper form as a Word document (editable by the organisation)."""
    lang = plan.default_language
    doc = Document()
    doc.styles["Normal"].font.size = Pt(10)
    doc.add_heading(plan.title, level=0)
    doc.add_heading("Consent", level=2)
    doc.add_paragraph(plan.consent)
    doc.add_paragraph(f"{BOX} I agree to take part.")
    for section in plan.sections:
        doc.add_heading(section.title, level=1)
        notice = doc.add_paragraph()
        notice.add_run(section.notice).font.size = Pt(8)
        if section.recall:
            doc.add_paragraph().add_run(section.recall).italic = True
        for block in section.blocks:
            if block.matrix:
                choices = block.questions[0].choices
                table = doc.add_table(rows=1, cols=2 + len(choices))
                table.style = "Table Grid"
                head = table.rows[0].cells
                head[0].text, head[1].text = "Item", "Statement"
                for cell, (_, label) in zip(head[2:], choices, strict=True):
                    cell.text = label
                for q in block.questions:
                    cells = table.add_row().cells
                    cells[0].text, cells[1].text = q.id, q.text[lang]
                    for cell, (code, _) in zip(cells[2:], choices, strict=True):
                        cell.text = f"{BOX} {code}"
                doc.add_paragraph()
                continue
            q = block.questions[0]
            para = doc.add_paragraph()
            para.add_run(f"{q.id}  ").font.size = Pt(7)
            para.add_run(q.text[lang]).bold = True
            if q.hint:
                doc.add_paragraph(q.hint)
            if q.kind == "choice":
                for code, label in q.choices:
                    doc.add_paragraph(f"{BOX} {code}  {label}")
            else:
                rng = f"  {_range(q)}" if q.min is not None or q.max is not None else ""
                doc.add_paragraph("_" * 40 + rng)
    out.parent.mkdir(parents=True, exist_ok=True)
    doc.save(out)
    return out
