"""Markdown rendering of a recommendation: the CLI prints it, reports serve it as /r/{id}.md."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from app.decision.recommendation import ClaimVerdict, Recommendation

LABELS = {"pytorch": "PyTorch", "tensorflow": "TensorFlow"}


# Every character that Markdown can give a meaning mid-line (links, images, raw HTML,
# entities, emphasis, code, table cells, strike-through) is backslash-escaped, which
# CommonMark defines as "this character, literally". Values never start a line, so the
# line-start markers (lists, headings) need no escape.
_MARKDOWN_PUNCTUATION = "\\`*_{}[]()<>|#!&~"
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x00-\x1f\x7f]+")


def _escape(text: Any) -> str:
    """Return any value that came from outside as literal Markdown text: one line, no raw
    HTML, no link, no entity, no emphasis, no table-cell break. Arrows ("->") become "→"
    first, so that they do not read as "-\\>"."""
    out = _LINE_BREAKS.sub(" ", str(text).replace("->", "→"))
    return "".join("\\" + char if char in _MARKDOWN_PUNCTUATION else char for char in out)


def _source(source: str, describe: Callable[[str], str] | None = None) -> str:
    """Return a source as an autolink when it is a URL, else as escaped text."""
    if source.startswith(("https://", "http://")) and not any(c in source for c in "<> "):
        return f"<{source}>"
    return _escape(describe(source) if describe else source)


def verdict_line(rec: Recommendation) -> str:
    """Return the verdict as shown everywhere: a tie is shown as a tie."""
    name = LABELS[rec.recommended]
    if rec.decided_by == "tie_break":
        return f"Tie — {name} by tie-break"
    if rec.decided_by == "constraint":
        return f"Recommended: {name} (decided by a constraint)"
    return f"Recommended: {name}"


def _points(capped: int, raw: int) -> str:
    return f"{capped} (of {raw}, capped)" if raw > capped else str(capped)


def render_markdown(rec: Recommendation, *, title: str | None = None,
                    answers: dict[str, Any] | None = None, url: str | None = None,
                    describe_claim: Callable[[ClaimVerdict], str] | None = None,
                    describe_source: Callable[[str], str] | None = None,
                    machine_evidence: Sequence[Mapping[str, Any]] = ()) -> str:
    """Return the whole recommendation as a Markdown document. `describe_claim` and
    `describe_source` (for citations that are not URLs) put metric ids in words
    (app/web/wording.py); `machine_evidence` (a report citing several runs) adds each
    machine's evidence side by side."""
    lines: list[str] = []
    lines.append(f"# {_escape(title) if title else 'Framework Advisor recommendation'}")
    lines.append("")
    lines.append(f"**{verdict_line(rec)}** — confidence {rec.confidence:.2f}.")
    if rec.provisional:
        lines.append("\n*Provisional: a probe run this report cites is still running; the measured "
                     "evidence, and with it the points, may still change.*")
    lines.append(f"\n{_escape(rec.summary)}")
    if url:
        lines.append(f"\nReport: {url}")
    lines.append(f"\nRules version `{rec.rules_version}`.")
    if answers:
        lines += ["", "## Answers", "", "| Question | Answer |", "|---|---|"]
        for key, value in answers.items():
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            lines.append(f"| {_escape(key)} | {_escape(str(shown))} |")
    if rec.constraints:
        lines += ["", "## Constraints", ""]
        for c in rec.constraints:
            level = "Blocking" if c.level == "blocking" else "Caution"
            lines.append(f"- **{level}: {LABELS[c.framework]} → {_escape(c.target_label)}.** "
                         f"{_escape(c.why)} Sources: "
                         f"{', '.join(_source(s, describe_source) for s in c.sources)}.")
    lines += ["", "## Points per factor group", "",
              "| Group | PyTorch | TensorFlow | Cap |", "|---|---|---|---|"]
    for g in rec.groups:
        lines.append(f"| {_escape(g.label)} | {_points(g.pytorch, g.raw['pytorch'])} | "
                     f"{_points(g.tensorflow, g.raw['tensorflow'])} | {g.cap} |")
    lines += ["", "## Reasons (strongest first)", ""]
    if not rec.reasons:
        lines.append("No rule applied to these answers.")
    for reason in rec.reasons:
        sources = ", ".join(_source(s, describe_source) for s in reason.sources)
        tag = " (measured)" if reason.evidence else ""
        if reason.machine:
            tag = f" (measured on {_escape(reason.machine)})"
        lines.append(
            f"- **+{reason.points} {LABELS[reason.framework]}** `{reason.rule_id}`{tag}: "
            f"{_escape(reason.why)} Sources: {sources} (as of {reason.as_of})."
        )
    lines += ["", "## The path to each target", ""]
    for framework, steps in rec.toolchain.items():
        lines += [f"### {LABELS[framework]}", "", "| Stage | Target | Tool | Maturity | Why |",
                  "|---|---|---|---|---|"]
        for step in steps:
            lines.append(f"| {step.stage} | {_escape(step.target or 'whole project')} | "
                         f"{_escape(step.tool)} | {step.maturity} | {_escape(step.why)} |")
        lines.append("")
    if rec.also_consider:
        lines += ["## Also consider", ""]
        for item in rec.also_consider:
            lines.append(f"- **{_escape(item.option)}**: {_escape(item.why)} "
                         f"Sources: {', '.join(_source(s, describe_source) for s in item.sources)}.")
        lines.append("")
    if rec.caveats:
        lines += ["## Caveats: tools you use or that this stack names", ""]
        for caveat in rec.caveats:
            use = " You use it today." if caveat.in_use else ""
            lines.append(f"- **{_escape(caveat.tool)}** ({caveat.status}): {_escape(caveat.why)}{use} "
                         f"Move to: {_escape(caveat.migration)} "
                         f"Sources: {', '.join(_source(s, describe_source) for s in caveat.sources)}.")
        lines.append("")
    lines += ["## What would change this", ""]
    if not rec.flips:
        lines.append("No plausible single change of answer would change the recommendation.")
    for flip in rec.flips:
        lines.append(f"- {_escape(flip.text)}")
    lines.append("")
    if rec.evidence is not None:
        ev = rec.evidence
        lines += ["## Measured on this machine", ""]
        env = ev.environment
        frameworks = ", ".join(f"{LABELS.get(k, k)} {v}" for k, v in
                               (env.get("frameworks") or {}).items())
        lines.append(f"Probe run `{_escape(str(ev.probe_run_id))}` ({_escape(ev.chosen)}), "
                     f"{_escape(str(env.get('cpu_model')))}, {env.get('threads')} thread(s), "
                     f"{_escape(frameworks)}, {_escape(str(env.get('mode')))} mode.")
        lines.append("")
        if ev.workload.get("text"):
            lines += [f"**Your workload:** {_escape(ev.workload['text'])}", ""]
        for note in ev.notes:
            lines.append(f"> {_escape(note)}")
        if ev.notes:
            lines.append("")
        for h in ev.highlights:
            lines.append(f"- {_escape(h.text)}")
        if ev.set_aside:
            lines += ["", "### Set aside (shown, not scored)", ""]
            for item in ev.set_aside:
                lines.append(f"- {_escape(item.what)}: {_escape(item.why)}")
        lines += ["", "### Popular claims checked", "",
                  "Verdicts come from the 95% interval: holds, does not hold, inconclusive (the "
                  "interval straddles the threshold) or not measured.", "",
                  "| Claim | Measured | Verdict |", "|---|---|---|"]
        for claim in ev.claims:
            per = "; ".join(f"{r.model}: {r.detail}" for r in claim.per_model)
            check = describe_claim(claim) if describe_claim else claim.threshold
            scope = f" — {claim.scope}" if claim.scope else ""
            lines.append(f"| {_escape(claim.claim)} ({_escape(check)}) | {_escape(per + scope)} | "
                         f"{claim.verdict.replace('_', ' ')} |")
        lines.append("")
    if len(machine_evidence) > 1:
        lines += _machines_markdown(machine_evidence)
    return "\n".join(lines)


def _machines_markdown(machine_evidence: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["## Evidence by machine", "",
             f"This report cites {len(machine_evidence)} probe runs. Measured rules were judged "
             "on the runs of machines labelled with your deployment targets (and the first cited "
             "run for targets without one); each measured reason above names its machine.", "",
             "| Machine | Run | Stands for | Used for scoring | Environment |",
             "|---|---|---|---|---|"]
    for m in machine_evidence:
        env = m["evidence"]["environment"]
        frameworks = ", ".join(f"{LABELS.get(k, k)} {v}" for k, v in
                               (env.get("frameworks") or {}).items())
        where = (f"{env.get('cpu_model')}, {env.get('cores')} cores, {env.get('os')}; "
                 f"{frameworks}")
        if env.get("accelerators"):
            where += f"; accelerators: {', '.join(map(str, env['accelerators']))}"
        lines.append(f"| {_escape(m.get('machine') or 'imported run')} | "
                     f"`{_escape(str(m['probe_run_id']))}` | "
                     f"{_escape(', '.join(m.get('stands_for') or []) or 'no answered target')} | "
                     f"{'yes' if m.get('used_for_scoring') else 'no'} | {_escape(where)} |")
    for m in machine_evidence:
        name = _escape(m.get("machine") or f"imported run {m['probe_run_id']}")
        lines += ["", f"### {name}", ""]
        for h in m["evidence"]["highlights"]:
            lines.append(f"- {_escape(h['text'])}")
        claims = "; ".join(f"{_escape(c['id'])}: {c['verdict'].replace('_', ' ')}"
                           for c in m["evidence"]["claims"])
        if claims:
            lines.append(f"- Claims on this machine: {claims}")
    lines.append("")
    return lines
