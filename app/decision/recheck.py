"""What changed between a stored recommendation and the one today's rules and runs give
for the same answers: verdict, confidence, reasons gained and lost, and the facts whose
`as_of` date moved. Both sides are plain JSON (the stored one may predate today's model)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.decision.rule_set import RuleSet


def facts_as_of(rule_set: RuleSet) -> dict[str, str]:
    """Return rule id -> as_of (ISO date) for every scoring and toolchain rule."""
    found = {r.rule.id: r.rule.as_of.isoformat() for r in rule_set.rules}
    found.update({t.rule.id: t.rule.as_of.isoformat() for t in rule_set.toolchain})
    return found


def _reasons(recommendation: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["rule_id"], r["framework"]): r for r in recommendation.get("reasons", [])}


def _brief(reason: Mapping[str, Any]) -> dict[str, Any]:
    return {"rule_id": reason["rule_id"], "framework": reason["framework"],
            "points": reason["points"], "why": reason.get("why")}


def diff_recommendations(before: Mapping[str, Any], after: Mapping[str, Any],
                         today_as_of: Mapping[str, str]) -> dict[str, Any]:
    """Return the differences from `before` (as stored) to `after` (as recomputed)."""
    old, new = _reasons(before), _reasons(after)
    changed_points = [{**_brief(new[k]), "points_before": old[k]["points"]}
                      for k in sorted(set(old) & set(new)) if old[k]["points"] != new[k]["points"]]
    cited = {r["rule_id"]: r.get("as_of") for r in before.get("reasons", [])}
    cited.update({s["rule_id"]: s.get("as_of") for steps in
                  (before.get("toolchain") or {}).values() for s in steps
                  if s.get("rule_id") and s.get("as_of")})
    as_of_changed = [{"rule_id": rule_id, "as_of_before": was, "as_of_now": today_as_of.get(rule_id)}
                     for rule_id, was in sorted(cited.items())
                     if was is not None and today_as_of.get(rule_id) != was]
    evidence_before = (before.get("evidence") or {}).get("probe_run_id")
    evidence_after = (after.get("evidence") or {}).get("probe_run_id")
    return {
        "verdict": {"before": before.get("recommended"), "after": after.get("recommended"),
                    "changed": before.get("recommended") != after.get("recommended")},
        "confidence": {"before": before.get("confidence"), "after": after.get("confidence"),
                       "delta": round((after.get("confidence") or 0)
                                      - (before.get("confidence") or 0), 4)},
        "scores": {"before": before.get("scores"), "after": after.get("scores")},
        "rules_version": {"before": before.get("rules_version"),
                          "after": after.get("rules_version")},
        "probe_run_id": {"before": evidence_before, "after": evidence_after},
        "reasons_gained": [_brief(new[k]) for k in sorted(set(new) - set(old))],
        "reasons_lost": [_brief(old[k]) for k in sorted(set(old) - set(new))],
        "reasons_changed": changed_points,
        "facts_as_of_changed": as_of_changed,
        "unchanged": (before.get("recommended") == after.get("recommended")
                      and before.get("confidence") == after.get("confidence")
                      and set(old) == set(new) and not changed_points and not as_of_changed),
    }
