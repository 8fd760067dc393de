"""End-to-end in headless Chromium against the real server: questionnaire, report, share,
downloads, no-JavaScript path, keyboard use, accessibility, probe progress."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.browser.conftest import AXE
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.browser


def submit_questionnaire(page, server: str) -> str:
    page.goto(server + "/")
    page.get_by_label("Project name").fill("Browser test project")
    answer_required(page, role="researcher", team_experience="pytorch", uses_hub_models="true")
    page.get_by_role("button", name="Get my recommendation").click()
    page.wait_for_url("**/r/*")
    return page.url


def answer_required(page, **chosen: str) -> None:
    """Answer every required question (none starts answered): the given values, else the
    first option; numbers get 1."""
    for question in page.locator(".question:has(.req)").all():
        qid = question.get_attribute("data-question")
        if question.locator("input[type=number]").count():
            question.locator("input[type=number]").fill(chosen.get(qid, "1"))
            continue
        value = chosen.get(qid)
        inputs = question.locator("input[type=radio], input[type=checkbox]")
        target = question.locator(f"input[value='{value}']") if value else inputs.first
        target.check()


def test_questionnaire_to_report_with_recommendation_and_chart(page, server):
    url = submit_questionnaire(page, server)
    assert page.locator("#recommended").inner_text() == "PyTorch"
    chart = page.locator("#score-chart")
    assert chart.is_visible()
    assert chart.locator("rect").count() == 2
    assert page.locator("ol.reasons li").count() >= 3
    assert page.locator("ol.reasons a[href^='https://']").count() >= 1
    assert page.locator("p.kicker").text_content().strip() == "Browser test project"
    assert url.startswith(server + "/r/")
    assert not [u for u in page.requests if not u.startswith(server)], page.requests


def test_a_refused_answer_is_shown_next_to_its_question_and_answers_are_kept(page, server):
    page.goto(server + "/")
    page.locator("input[name=deployment_targets][value=cloud_server]").check()
    page.get_by_label("p95 latency budget per request (ms)").fill("0.01")
    page.locator("input[name=role][value=enterprise]").check()
    page.get_by_role("button", name="Get my recommendation").click()
    error = page.locator("#latency_budget_ms-error")
    error.wait_for()
    assert "from 0.1 to 60000" in error.inner_text()
    assert page.locator("#question-latency_budget_ms").get_attribute("class").count("has-error")
    assert page.locator("input[name=role][value=enterprise]").is_checked()
    assert page.get_by_label("p95 latency budget per request (ms)").input_value() == "0.01"


def test_javascript_limits_priorities_to_three(page, server):
    page.goto(server + "/")
    boxes = page.locator("input[name=priorities]")
    for value in ("iteration_speed", "debuggability", "low_latency"):
        page.locator(f"input[name=priorities][value={value}]").check()
    assert page.locator("input[name=priorities]:checked").count() == 3
    disabled = [boxes.nth(i).is_disabled() for i in range(boxes.count())]
    assert disabled.count(True) == boxes.count() - 3


def test_the_form_works_with_javascript_off(browser, server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(server + "/")
    answer_required(page, role="student")
    page.get_by_role("button", name="Get my recommendation").click()
    page.wait_for_url("**/r/*")
    assert page.locator("#recommended").inner_text() in ("PyTorch", "TensorFlow")
    # without JavaScript the copy button stays hidden rather than broken
    assert not page.locator("#copy-link").is_visible()
    context.close()


def test_the_share_link_opens_the_same_report_in_a_fresh_browser(page, browser, server):
    url = submit_questionnaire(page, server)
    recommended = page.locator("#recommended").inner_text()
    confidence = page.locator("#confidence").inner_text()
    fresh = browser.new_context()
    other = fresh.new_page()
    other.goto(url)
    assert other.locator("#recommended").inner_text() == recommended
    assert other.locator("#confidence").inner_text() == confidence
    # the token was for the creator only
    assert not other.locator("#delete-panel").is_visible()
    assert other.locator("#delete-token").inner_text() == ""
    fresh.close()


def test_copy_link_puts_the_permalink_on_the_clipboard(browser, server):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    url = submit_questionnaire(page, server)
    page.locator("#copy-link").click()
    page.locator("#copy-status").filter(has_text="Link copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == url
    context.close()


def test_markdown_and_json_links_download(page, server):
    submit_questionnaire(page, server)
    with page.expect_download() as markdown:
        page.locator("#download-md").click()
    text = Path(markdown.value.path()).read_text(encoding="utf-8")
    assert text.startswith("# Browser test project") and "Recommended: PyTorch" in text
    with page.expect_download() as download:
        page.locator("#download-json").click()
    data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert data["recommendation"]["recommended"] == "pytorch"


def test_keyboard_alone_can_answer_and_submit(page, server):
    page.goto(server + "/")
    page.keyboard.press("Tab")  # skip link
    for _ in range(400):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement;
            const q = e.closest('.question');
            return {type: e.type, name: e.name, required: !!(q && q.querySelector('.req')),
                    answered: !!(q && q.querySelector('input:checked')), value: e.value}; }""")
        if focused["type"] == "submit":
            break
        if not focused["required"]:
            continue
        if focused["type"] in ("radio", "checkbox") and not focused["answered"]:
            page.keyboard.press("Space")  # the focused choice; radios then move with arrows
        elif focused["type"] == "number" and not focused["value"]:
            page.keyboard.type("2")
    page.keyboard.press("Enter")
    page.wait_for_url("**/r/*")
    assert page.locator("#recommended").is_visible()


def test_the_report_prints_without_navigation_and_fits_a_phone(browser, server, page):
    url = submit_questionnaire(page, server)
    phone = browser.new_context(viewport={"width": 375, "height": 800})
    small = phone.new_page()
    small.goto(url)
    assert small.evaluate("document.documentElement.scrollWidth") <= 376
    small.emulate_media(media="print")
    assert not small.locator("header.site").is_visible()
    assert not small.locator(".share").is_visible()
    assert small.locator("#recommended").is_visible()
    pdf = small.pdf()
    assert pdf[:4] == b"%PDF"
    phone.close()


def axe_violations(browser, url: str) -> list[dict]:
    # axe-core is injected by the test, so this context may bypass the page's CSP.
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(url)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']})")
    context.close()
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_questionnaire_and_report_have_no_serious_accessibility_violations(browser, page, server):
    if not AXE.exists():
        pytest.skip("axe-core is missing: `bash .ci/install --test` installs it from npm")
    url = submit_questionnaire(page, server)
    for target in (server + "/", url, server + "/probes", server + "/rules"):
        violations = axe_violations(browser, target)
        assert not violations, [(v["id"], v["help"], [n["target"] for n in v["nodes"][:3]])
                                for v in violations]


@pytest.mark.probes
def test_a_report_waiting_for_its_probe_run_fills_in_live(page, server):
    run = httpx.post(server + "/api/v1/probe-runs", json={
        "models": ["mlp"], "frameworks": ["tensorflow"], "mode": "quick"}).json()
    answers = yaml.safe_load(EXAMPLES[0].read_text())
    report = httpx.post(server + "/api/v1/reports", json={
        "answers": answers, "probe_run_id": run["id"]}).json()
    page.goto(server + report["url"])
    assert page.locator("#pending-evidence").is_visible()
    seen = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and page.locator("#pending-evidence").count():
        seen.add(page.locator("#progress-text").inner_text())
        time.sleep(0.5)
    assert page.locator("table.claims").is_visible()
    assert page.locator("#lat-mlp").is_visible() and page.locator("#lat-mlp rect").count() >= 2
    assert any("running tensorflow/mlp" in text for text in seen), seen
    assert not [u for u in page.requests if not u.startswith(server)]
