"""Markdown rendering of a recommendation: the CLI prints it, reports serve it as /r/{id}.md."""

from __future__ import annotations

from typing import Any

from app.decision.recommendation import Recommendation

LABELS = {"pytorch": "PyTorch", "tensorflow": "TensorFlow"}


def _escape(text: str) -> str:
    """Return text safe inside Markdown tables and prose (no raw HTML, no pipe breaks)."""
    out = str(text)
    for char in "\\`*_{}[]<>|#":
        out = out.replace(char, "\\" + char)
    return out.replace("\n", " ")


def _source(source: str) -> str:
    """Return a source as an autolink when it is a URL, else as escaped text."""
    if source.startswith(("https://", "http://")) and not any(c in source for c in "<> "):
        return f"<{source}>"
    return _escape(source)


def render_markdown(rec: Recommendation, *, title: str | None = None,
                    answers: dict[str, Any] | None = None, url: str | None = None) -> str:
    """Return the whole recommendation as a Markdown document."""
    lines: list[str] = []
    lines.append(f"# {_escape(title) if title else 'Framework Advisor recommendation'}")
    lines.append("")
    lines.append(
        f"**Recommended: {LABELS[rec.recommended]}** — confidence {rec.confidence:.2f} "
        f"(PyTorch {rec.scores['pytorch']} points, TensorFlow {rec.scores['tensorflow']} points)."
    )
    if url:
        lines.append(f"\nReport: {url}")
    lines.append(f"\nRules version `{rec.rules_version}`.")
    if answers:
        lines += ["", "## Answers", "", "| Question | Answer |", "|---|---|"]
        for key, value in answers.items():
            shown = ", ".join(map(str, value)) if isinstance(value, list) else value
            lines.append(f"| {_escape(key)} | {_escape(str(shown))} |")
    lines += ["", "## Reasons (strongest first)", ""]
    if not rec.reasons:
        lines.append("No rule applied to these answers.")
    for reason in rec.reasons:
        sources = ", ".join(_source(s) for s in reason.sources)
        tag = " (measured)" if reason.evidence else ""
        lines.append(
            f"- **+{reason.points} {LABELS[reason.framework]}** `{reason.rule_id}`{tag}: "
            f"{_escape(reason.why)} Sources: {sources} (as of {reason.as_of})."
        )
    lines += ["", "## Recommended stack", ""]
    for framework, steps in rec.toolchain.items():
        lines += [f"### {LABELS[framework]}", "", "| Stage | Tool | Why |", "|---|---|---|"]
        for step in steps:
            lines.append(f"| {step.stage} | {_escape(step.tool)} | {_escape(step.why)} |")
        lines.append("")
    if rec.caveats:
        lines += ["## Caveats: deprecated, archived or renamed tools", ""]
        for caveat in rec.caveats:
            lines.append(f"- **{_escape(caveat.tool)}** ({caveat.status}): {_escape(caveat.why)} "
                         f"Sources: {', '.join(_source(s) for s in caveat.sources)}.")
        lines.append("")
    lines += ["## What would change this", ""]
    if not rec.flips:
        lines.append("No single answer change would change the recommendation.")
    for flip in rec.flips:
        lines.append(f"- `{flip.question}`: {_escape(flip.change)} → "
                     f"{LABELS[flip.recommended]} ({flip.scores['pytorch']} vs "
                     f"{flip.scores['tensorflow']})")
    lines.append("")
    if rec.evidence is not None:
        ev = rec.evidence
        lines += ["## Measured on this machine", ""]
        env = ev.environment
        lines.append(f"Probe run `{ev.probe_run_id}` ({ev.chosen}), {env.get('cpu_model')}, "
                     f"{env.get('threads')} thread(s), frameworks {env.get('frameworks')}.")
        lines.append("")
        for h in ev.highlights:
            lines.append(f"- {_escape(h.text)}")
        lines += ["", "### Popular claims checked", "", "| Claim | Measured | Verdict |",
                  "|---|---|---|"]
        for claim in ev.claims:
            per = "; ".join(f"{r.model}: {r.detail}" for r in claim.per_model)
            lines.append(f"| {_escape(claim.claim)} ({claim.threshold}) | {_escape(per)} | "
                         f"{claim.verdict.replace('_', ' ')} |")
        lines.append("")
    return "\n".join(lines)
