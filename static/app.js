// Framework Advisor: comfort only. Every page works without this script.
(function () {
  "use strict";

  // Questionnaire: live validation of the "at most N" and exclusive choices,
  // and showing questions only when they apply.
  function initQuestionnaire(form) {
    form.querySelectorAll("fieldset[data-max-items]").forEach(function (set) {
      var max = parseInt(set.getAttribute("data-max-items"), 10);
      var boxes = set.querySelectorAll("input[type=checkbox]");
      function update() {
        var checked = set.querySelectorAll("input[type=checkbox]:checked").length;
        boxes.forEach(function (box) { box.disabled = !box.checked && checked >= max; });
      }
      boxes.forEach(function (box) { box.addEventListener("change", update); });
      update();
    });
    form.querySelectorAll("input[data-exclusive]").forEach(function (only) {
      var set = only.closest("fieldset");
      set.querySelectorAll("input[type=checkbox]").forEach(function (box) {
        box.addEventListener("change", function () {
          if (!box.checked) { return; }
          set.querySelectorAll("input[type=checkbox]").forEach(function (other) {
            if (other !== box && (box === only || other === only)) { other.checked = false; }
          });
        });
      });
    });
    var dependents = form.querySelectorAll("[data-show-question]");
    function refresh() {
      dependents.forEach(function (div) {
        var source = div.getAttribute("data-show-question");
        var wanted = div.getAttribute("data-show-values").split(" ");
        var chosen = Array.prototype.map.call(
          form.querySelectorAll("input[name='" + source + "']:checked"),
          function (input) { return input.value; });
        var show = chosen.some(function (v) { return wanted.indexOf(v) >= 0; });
        div.hidden = !show;
        div.querySelectorAll("input").forEach(function (input) { input.disabled = !show; });
      });
    }
    form.addEventListener("change", refresh);
    refresh();
  }

  // Report: copy the share link.
  function initCopy(button) {
    if (!navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var url = new URL(button.getAttribute("data-url"), window.location.href).href;
      navigator.clipboard.writeText(url).then(function () {
        document.getElementById("copy-status").textContent = "Link copied";
      }, function () {
        document.getElementById("copy-status").textContent = "Copy failed: " + url;
      });
    });
  }

  // "12 s", "3 min 05 s": the same words as app/web/progress.py.
  function durationWords(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    if (seconds < 60) { return seconds + " s"; }
    var rest = seconds % 60;
    return Math.floor(seconds / 60) + " min " + (rest < 10 ? "0" : "") + rest + " s";
  }

  function progressLine(run) {
    var p = run.progress || {total: 0, done: 0, current: run.status};
    var text = p.done + " of " + (p.total || "?") + " steps — running " + (p.current || run.status);
    if (run.status !== "running") { return run.status + " — waiting to start"; }
    if (!run.started_at) { return text; }
    var elapsed = (Date.now() - Date.parse(run.started_at)) / 1000;
    text += " — " + durationWords(elapsed) + " elapsed";
    if (p.total && p.done > 0 && p.done < p.total) {
      text += ", about " + durationWords(elapsed / p.done * (p.total - p.done)) + " left";
    }
    return text;
  }

  // Probe run page and a report waiting for its run: poll the API, reload when it ends.
  function initProbeRun(article) {
    var status = article.getAttribute("data-status");
    if (status !== "queued" && status !== "running") { return; }
    var id = article.getAttribute("data-run-id");
    function poll() {
      fetch("/api/v1/probe-runs/" + encodeURIComponent(id), {headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (run) {
          var p = run.progress || {total: 0, done: 0, current: run.status};
          var bar = document.getElementById("progress-bar");
          bar.max = p.total || 1;
          bar.value = p.done;
          document.getElementById("progress-text").textContent = progressLine(run);
          document.getElementById("run-status").textContent = run.status;
          if (run.status === "queued" || run.status === "running") {
            window.setTimeout(poll, 1000);
          } else {
            window.location.reload();
          }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 1000);
  }

  // Report: the delete token. The server shows it once (to the browser that made the
  // report); this keeps it for the tab's session, so a reload (e.g. when the probe run
  // finishes) still shows it, and offers a Delete button while it is known.
  function storage() {
    try { return window.sessionStorage; } catch (e) { return null; }
  }

  function initDelete(article) {
    var id = article.getAttribute("data-report-id");
    var key = "advisor.delete-token." + id;
    var store = storage();
    var panel = document.getElementById("delete-panel");
    var shown = document.getElementById("delete-token");
    var token = shown ? shown.textContent.trim() : "";
    if (token) {
      if (store) { store.setItem(key, token); }
    } else if (store) {
      token = store.getItem(key) || "";
    }
    if (!token || !panel) { return; }
    var url = window.location.origin + "/api/v1/reports/" + encodeURIComponent(id);
    shown.textContent = token;
    document.getElementById("delete-curl").textContent =
      'curl -X DELETE -H "Authorization: Bearer ' + token + '" ' + url;
    panel.hidden = false;
    var button = document.getElementById("delete-report");
    var status = document.getElementById("delete-status");
    var copy = document.getElementById("copy-curl");
    if (navigator.clipboard && copy) {
      copy.hidden = false;
      copy.addEventListener("click", function () {
        navigator.clipboard.writeText(document.getElementById("delete-curl").textContent).then(
          function () { status.textContent = "curl line copied"; },
          function () { status.textContent = "Copy failed; select the line instead."; });
      });
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      if (!window.confirm("Delete this report for everyone who has the link? This cannot be undone.")) {
        return;
      }
      button.disabled = true;
      fetch(url, {method: "DELETE", headers: {"Authorization": "Bearer " + token}})
        .then(function (r) {
          if (r.status === 204 || r.status === 404) {
            if (store) { store.removeItem(key); }
            var main = document.getElementById("main");
            main.innerHTML = "";
            var h1 = document.createElement("h1");
            h1.textContent = "Report deleted";
            var p = document.createElement("p");
            p.id = "deleted";
            p.textContent = "This report is gone; its link now leads nowhere.";
            var a = document.createElement("a");
            a.href = "/";
            a.textContent = "Start a new questionnaire";
            main.appendChild(h1); main.appendChild(p); main.appendChild(a);
          } else {
            button.disabled = false;
            status.textContent = "Not deleted (the server answered " + r.status + ").";
          }
        }, function () {
          button.disabled = false;
          status.textContent = "Not deleted: the server could not be reached.";
        });
    });
  }

  // Report opened from "Start from this report": offer to compare with the original.
  function initCompareOrigin(article) {
    var from = new URLSearchParams(window.location.search).get("from");
    if (!from || !/^[A-Za-z0-9_-]{24}$/.test(from)) { return; }
    var id = article.getAttribute("data-report-id");
    var link = document.getElementById("compare-origin-link");
    if (!link) { return; }
    link.href = "/r/" + encodeURIComponent(from) + "/compare?other=" + encodeURIComponent(id);
    document.getElementById("compare-origin").hidden = false;
  }

  // Rules page: filter the scoring rules by framework, group and text.
  function initRuleFilter(form) {
    var rows = document.querySelectorAll("#rules-table tbody tr");
    var framework = document.getElementById("filter-framework");
    var group = document.getElementById("filter-group");
    var text = document.getElementById("filter-text");
    var count = document.getElementById("filter-count");
    function apply() {
      var needle = text.value.trim().toLowerCase();
      var shown = 0;
      rows.forEach(function (row) {
        var ok = (!framework.value || row.getAttribute("data-frameworks").split(" ").indexOf(framework.value) >= 0) &&
          (!group.value || row.getAttribute("data-group") === group.value) &&
          (!needle || row.textContent.toLowerCase().indexOf(needle) >= 0);
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      count.textContent = shown + " of " + rows.length + " rules shown";
    }
    form.hidden = false;
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    [framework, group].forEach(function (el) { el.addEventListener("change", apply); });
    text.addEventListener("input", apply);
    apply();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.questionnaire");
    if (form) { initQuestionnaire(form); }
    var copy = document.getElementById("copy-link");
    if (copy) { initCopy(copy); }
    var run = document.querySelector("article.probe-run, div.probe-run.pending");
    if (run) { initProbeRun(run); }
    var report = document.querySelector("article.report");
    if (report) { initDelete(report); initCompareOrigin(report); }
    var filter = document.getElementById("rule-filter");
    if (filter) { initRuleFilter(filter); }
  });
}());
