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

  // Probe run page: poll the API and reload when the run finishes.
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
          document.getElementById("progress-text").textContent =
            p.done + " of " + (p.total || "?") + " steps — running " + p.current;
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

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.questionnaire");
    if (form) { initQuestionnaire(form); }
    var copy = document.getElementById("copy-link");
    if (copy) { initCopy(copy); }
    var run = document.querySelector("article.probe-run, div.probe-run.pending");
    if (run) { initProbeRun(run); }
  });
}());
