"""The wings keep their walls: the decision core stays a plain library, and nothing loops."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.import_graph import APP, import_graph, longest_chain, module_cycles

# What the decision wing must never load, directly or through another module.
FORBIDDEN_IN_CORE = ("fastapi", "starlette", "sqlalchemy", "jinja2", "uvicorn", "alembic",
                     "torch", "tensorflow", "keras", "onnxruntime", "ai_edge_litert", "app.web",
                     "app.storage", "app.bench", "probes")
# The core may read the probe plan (pure data: models, variants, modes), nothing else of probes/.
ALLOWED = ("probes", "probes.plan")


def _forbidden(module: str) -> bool:
    if module in ALLOWED or module.startswith("probes.plan."):
        return False
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN_IN_CORE)


def test_decision_wing_imports_no_web_database_template_or_ml_framework():
    graph = import_graph(APP)
    offenders = [
        f"{module} imports {target}"
        for module, targets in graph.items() if module.startswith("app.decision")
        for target in targets.external | targets.internal
        if _forbidden(target)
    ]
    assert offenders == []


def test_a_script_scores_answers_with_the_core_alone():
    # Scoring in a fresh interpreter must leave every forbidden package unloaded.
    script = (
        "import json, sys, yaml\n"
        "from app.decision.rule_set import load_rule_set, SHIPPED_RULES_DIR\n"
        "from app.decision.questionnaire import validate_answers\n"
        "from app.decision.scoring import score_answers\n"
        "rules = load_rule_set()\n"
        "path = sorted((SHIPPED_RULES_DIR / 'examples').glob('*.yaml'))[0]\n"
        "answers = validate_answers(rules.questionnaire, yaml.safe_load(path.read_text()))\n"
        "rec = score_answers(rules, answers)\n"
        "print(json.dumps({'recommended': rec.recommended, 'modules': sorted(sys.modules)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["recommended"] in ("pytorch", "tensorflow")
    loaded = [m for m in result["modules"] if _forbidden(m)]
    assert loaded == []


def test_no_module_of_the_app_imports_itself_through_others():
    assert module_cycles(import_graph(APP)) == []


def test_decision_core_reads_top_to_bottom_in_a_few_layers():
    # answers -> questionnaire -> conditions -> rule set -> verdict/flips -> scoring: a short chain.
    graph = {name: imports for name, imports in import_graph(APP).items()
             if name.startswith("app.decision")}
    for imports in graph.values():
        imports.internal = {m for m in imports.internal if m.startswith("app.decision")}
    chain = longest_chain(graph)
    assert len(chain) <= 8, " -> ".join(chain)


def test_top_of_app_holds_at_most_six_loose_modules():
    loose = sorted(p.name for p in APP.glob("*.py"))
    assert len(loose) <= 6, loose
