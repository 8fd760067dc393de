"""Pages a person trusts (issue 11), in headless Chromium against the real server: the
delete token survives reloads and deletes, answers start unchosen, a report can be the
start of another and two reports compare, no ids on the page, phone and print layouts."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import EXAMPLES

pytestmark = pytest.mark.browser
RECORDED_PROBE_RUN = Path(__file__).parents[1] / "data" / "probe-run-recorded.json"
METRIC_IDS = ("import_s", "first_call_ms", "latency_ms_b1", "throughput_sps_b32", "compile_s",
              "train_step_ms_b32", "peak_rss_mb", "artifact_bytes", "parity_max_abs_diff")


def fill_minimal(page, server: str, title: str = "Trust test") -> None:
    """Answer every required question (nothing is pre-chosen any more)."""
    page.goto(server + "/")
    page.get_by_label("Project name").fill(title)
    for name, value in (("role", "researcher"), ("team_experience", "pytorch"),
                        ("team_size", "small"), ("cloud", "none"),
                        ("model_family", "vision_cnn"), ("uses_hub_models", "true"),
                        ("needs_mlops_pipeline", "false")):
        page.locator(f"input[name={name}][value={value}]").check()
    for name, value in (("priorities", "iteration_speed"), ("training_hardware", "nvidia_gpu"),
                        ("deployment_targets", "cloud_server")):
        page.locator(f"input[name={name}][value={value}]").check()
    page.locator("input[name=models_in_production]").fill("2")


def submit(page) -> str:
    page.get_by_role("button", name="Get my recommendation").click()
    page.wait_for_url("**/r/*")
    return page.url


@pytest.fixture(scope="module")
def evidence_report(server) -> str:
    """A report whose evidence is the recorded probe run (imported, not measured here)."""
    run = httpx.post(server + "/api/v1/probe-runs/import",
                     json=json.loads(RECORDED_PROBE_RUN.read_text()))
    assert run.status_code == 201, run.text
    answers = yaml.safe_load(next(e for e in EXAMPLES if "edge-camera" in e.name).read_text())
    report = httpx.post(server + "/api/v1/reports",
                        json={"answers": answers, "probe_run_id": run.json()["id"]})
    assert report.status_code == 201, report.text
    return server + report.json()["url"]


def test_the_questionnaire_starts_with_required_questions_unanswered(page, server):
    page.goto(server + "/")
    required = page.locator(".question:has(.req) input[type=radio], "
                            ".question:has(.req) input[type=checkbox]")
    assert required.count() > 20
    assert page.locator("form.questionnaire input:checked").count() == 0
    page.get_by_role("button", name="Get my recommendation").click()
    summary = page.locator("#form-error")
    summary.wait_for()
    # the error summary names questions by their labels, never by id
    links = summary.locator("a")
    assert links.count() >= 5
    assert "What kind of organisation is this for?" in summary.inner_text()
    assert "team_experience" not in summary.inner_text()
    assert page.locator("#role-error").inner_text() == "This question needs an answer."
    # a refused form keeps what was chosen, and nothing else
    page.locator("input[name=role][value=student]").check()
    page.get_by_role("button", name="Get my recommendation").click()
    page.locator("#form-error").wait_for()
    assert page.locator("input[name=role][value=student]").is_checked()
    assert page.locator("form.questionnaire input:checked").count() == 1


def test_delete_button_deletes_the_report_after_confirmation(page, server):
    fill_minimal(page, server)
    url = submit(page)
    token = page.locator("#delete-token").inner_text()
    assert len(token) > 20
    report_id = url.rsplit("/", 1)[-1]
    curl = page.locator("#delete-curl").inner_text()
    assert curl == (f'curl -X DELETE -H "Authorization: Bearer {token}" '
                    f"{server}/api/v1/reports/{report_id}")
    dialogs: list[str] = []

    def dismiss_first_then_accept(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss() if len(dialogs) == 1 else dialog.accept()

    page.on("dialog", dismiss_first_then_accept)
    page.locator("#delete-report").click()  # dismissed: nothing happens
    assert httpx.get(f"{server}/api/v1/reports/{report_id}").status_code == 200
    page.locator("#delete-report").click()
    page.locator("#deleted").wait_for()
    assert "cannot be undone" in dialogs[0]
    assert httpx.get(f"{server}/api/v1/reports/{report_id}").status_code == 404
    page.goto(url)  # a browser gets a page, not raw JSON
    assert page.locator("h1").inner_text() == "Not found"


def test_the_token_is_only_for_the_tab_that_made_the_report(page, browser, server):
    fill_minimal(page, server)
    url = submit(page)
    token = page.locator("#delete-token").inner_text()
    page.reload()
    assert page.locator("#delete-token").inner_text() == token
    assert page.locator("#delete-report").is_visible()
    other = browser.new_context()
    stranger = other.new_page()
    stranger.goto(url)
    assert not stranger.locator("#delete-panel").is_visible()
    assert not stranger.locator("#delete-report").is_visible()
    assert token not in stranger.content()
    other.close()


def test_start_from_this_report_then_compare_with_it(page, server):
    fill_minimal(page, server, "Original plan")
    first = submit(page)
    page.locator("#start-from").click()
    page.wait_for_url("**/?from=*")
    assert page.locator("#start-from-notice").is_visible()
    assert page.get_by_label("Project name").input_value() == "Original plan"
    assert page.locator("input[name=role][value=researcher]").is_checked()
    assert page.locator("input[name=priorities][value=iteration_speed]").is_checked()
    page.get_by_label("Project name").fill("Changed plan")
    page.locator("input[name=team_experience][value=tensorflow]").check()
    second = submit(page)
    assert second != first and "?from=" in second
    page.locator("#compare-origin-link").click()
    page.wait_for_url("**/compare?other=*")
    differences = page.locator("#answer-differences").inner_text()
    assert "Which framework does the team already know well?" in differences
    assert "PyTorch" in differences and "TensorFlow / Keras" in differences
    assert "Project name" in differences
    assert page.locator("#first-recommended").inner_text() == "PyTorch"
    gained = page.locator("#reasons-gained").inner_text()
    lost = page.locator("#reasons-lost").inner_text()
    assert "TensorFlow" in gained and "PyTorch" in lost


def test_compare_two_reports_by_pasting_a_link(page, server, evidence_report):
    fill_minimal(page, server, "Pasted")
    url = submit(page)
    page.get_by_label("Link of the other report").fill(evidence_report)
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/compare?other=*")
    assert page.locator("#second-recommended").inner_text() in ("PyTorch", "TensorFlow")
    assert page.locator("#answer-differences tbody tr").count() >= 3
    assert "Smart camera" in page.locator("#compare-summary").inner_text()
    # a link that is not a report is refused in words, on the same page
    page.goto(url.split("?")[0] + "/compare?other=https://example.com/nothing")
    assert "not a link to a report" in page.locator("#compare-error").inner_text()


def test_no_question_or_metric_id_is_visible_on_a_report(page, server, evidence_report, rule_set):
    page.goto(evidence_report)
    text = page.locator("main").inner_text()
    ids = {q.id for q in rule_set.questionnaire.questions() if "_" in q.id}
    ids |= {v for q in rule_set.questionnaire.questions() for v in q.values if "_" in v}
    ids |= set(METRIC_IDS)
    visible = sorted(i for i in ids if re.search(rf"\b{re.escape(i)}\b", text))
    assert visible == [], visible
    assert "->" not in text and " gte " not in text
    # Flips are sentences in the questionnaire's words (their wording is checked for every
    # example in tests/test_scoring.py); this report may or may not have any.
    for item in page.locator("ul.flips li").all():
        assert item.inner_text().startswith("If ")
        assert re.search(r"(PyTorch|TensorFlow) \d+ – (PyTorch|TensorFlow) \d+", item.inner_text())
    if page.locator("ul.flips li").count() == 0:
        assert "would change the recommendation" in page.locator("#no-flips").inner_text()


def test_on_a_phone_chart_text_stays_readable_and_stacked_rows_keep_labels(
        browser, server, evidence_report):
    phone = browser.new_context(viewport={"width": 390, "height": 844})
    page = phone.new_page()
    page.goto(evidence_report)
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    sizes = page.evaluate("""() => Array.from(document.querySelectorAll('.chart *'))
        .filter(el => Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim()))
        .map(el => parseFloat(getComputedStyle(el).fontSize))""")
    assert len(sizes) > 50
    assert min(sizes) >= 12, min(sizes)
    assert page.locator(".chart svg text").count() == 0
    label = page.evaluate("""() => getComputedStyle(
        document.querySelector('table.claims td'), '::before').content""")
    assert label == '"Claim"'
    phone.close()


def test_a_report_with_evidence_prints_in_at_most_six_pages(browser, server, evidence_report):
    context = browser.new_context()
    page = context.new_page()
    page.goto(evidence_report)
    pdf = page.pdf(format="A4")
    if os.environ.get("ADVISOR_SAVE_PDF"):  # to look at it: pdftoppm -png FILE page
        Path(os.environ["ADVISOR_SAVE_PDF"]).write_bytes(pdf)
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))
    assert 2 <= pages <= 6, pages
    page.emulate_media(media="print")
    assert page.locator("#appendix").is_visible()
    assert not page.locator("#compare").is_visible()
    # the evidence summary comes before the appendix's detailed tables
    order = page.evaluate("""() => ['#h-reasons', '#h-stack', '#h-flips', '#h-evidence',
        '#h-appendix'].map(s => document.querySelector(s).getBoundingClientRect().top)""")
    assert order == sorted(order)
    context.close()


@pytest.mark.probes
def test_the_delete_token_survives_the_reload_when_the_probe_run_finishes(page, server):
    run = httpx.post(server + "/api/v1/probe-runs", json={
        "models": ["mlp"], "frameworks": ["tensorflow"], "mode": "quick"}).json()
    fill_minimal(page, server)
    # the form takes probe_run_id like the API, so the smallest run can be cited
    page.evaluate("""id => { const i = document.createElement('input'); i.type = 'hidden';
        i.name = 'probe_run_id'; i.value = id; document.querySelector('form.questionnaire')
        .appendChild(i); }""", run["id"])
    submit(page)
    token = page.locator("#delete-token").inner_text()
    assert len(token) > 20 and page.locator("#pending-evidence").is_visible()
    seen = set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and page.locator("#pending-evidence").count():
        if page.locator("#progress-text").count():
            seen.add(page.locator("#progress-text").inner_text())
        time.sleep(0.5)
    assert page.locator("table.claims").is_visible()  # reloaded with the measurements
    assert any(re.search(r"\d+ s elapsed", text) for text in seen), seen
    assert page.locator("#delete-token").inner_text() == token
    assert page.locator("#delete-report").is_visible()
    assert token in page.locator("#delete-curl").inner_text()


def test_new_pages_have_no_serious_accessibility_violations(browser, page, server,
                                                           evidence_report):
    from tests.browser.conftest import AXE
    from tests.browser.test_browser import axe_violations

    if not AXE.exists():
        pytest.skip("axe-core is missing: `bash .ci/install --test` installs it from npm")
    fill_minimal(page, server)
    url = submit(page)
    report_id = evidence_report.rsplit("/", 1)[-1]
    for target in (evidence_report, f"{url}/compare?other={report_id}",
                   f"{server}/?from={report_id}"):
        violations = axe_violations(browser, target)
        assert not violations, [(v["id"], v["help"], [n["target"] for n in v["nodes"][:3]])
                                for v in violations]


def test_the_rules_page_filters_by_framework_group_and_text(page, server):
    page.goto(server + "/rules")
    rows = page.locator("#rules-table tbody tr")
    total = rows.count()
    page.get_by_label("Framework").select_option("tensorflow")
    tensorflow = page.locator("#rules-table tbody tr:visible").count()
    assert 0 < tensorflow < total
    assert all("TensorFlow" in t for t in
               page.locator("#rules-table tbody tr:visible td[data-label=Points]").all_inner_texts())
    page.get_by_label("Group").select_option("Team skills and hiring")
    page.get_by_label("Text").fill("already knows")
    visible = page.locator("#rules-table tbody tr:visible")
    assert visible.count() >= 1
    assert "“Which framework does the team already know well?” is “TensorFlow / Keras”" in \
        visible.first.locator("td[data-label=When]").inner_text()
    assert f"of {total} rules shown" in page.locator("#filter-count").inner_text()
    # rule ids wrap at their hyphens only, never inside a word
    assert page.locator(".rule-id").first.evaluate(
        "e => getComputedStyle(e).wordBreak + ' ' + getComputedStyle(e).overflowWrap") == \
        "normal normal"


def test_long_reason_lists_keep_two_digit_numbers_in_print(page, server):
    answers = yaml.safe_load(next(e for e in EXAMPLES if "microcontrollers" in e.name).read_text())
    report = httpx.post(server + "/api/v1/reports", json={"answers": answers}).json()
    page.goto(server + report["url"])
    assert page.locator("ol.reasons > li").count() >= 10
    page.emulate_media(media="print")
    # the marker box ("10.") must fit inside the list's left padding, or it prints as "0."
    fits = page.evaluate("""() => { const ol = document.querySelector('ol.reasons');
        const probe = document.createElement('span'); probe.textContent = '19. ';
        probe.style.position = 'absolute'; ol.appendChild(probe);
        const width = probe.getBoundingClientRect().width; probe.remove();
        return parseFloat(getComputedStyle(ol).paddingLeft) >= width; }""")
    assert fits


def test_the_curl_line_copies_with_the_real_url(browser, server):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    fill_minimal(page, server)
    url = submit(page)
    page.locator("#copy-curl").click()
    page.locator("#delete-status").filter(has_text="curl line copied").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    token = page.locator("#delete-token").inner_text()
    assert copied == (f'curl -X DELETE -H "Authorization: Bearer {token}" '
                      f"{server}/api/v1/reports/{url.rsplit('/', 1)[-1]}")
    context.close()
