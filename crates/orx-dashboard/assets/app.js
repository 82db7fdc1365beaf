// orx dashboard: the little plain JS the pages need (htmx does the rest).
(function () {
  "use strict";

  // Elapsed times tick locally from the run's start time (no requests).
  function fmt(secs) {
    if (secs < 60) return secs.toFixed(0) + "s";
    var s = Math.round(secs);
    if (s < 3600) return Math.floor(s / 60) + "m " + String(s % 60).padStart(2, "0") + "s";
    return Math.floor(s / 3600) + "h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + "m";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var t = Date.parse(el.getAttribute("data-since"));
      if (!isNaN(t)) el.textContent = fmt(Math.max(0, (now - t) / 1000));
    });
  }
  setInterval(tick, 1000);

  // The task can be loaded from a file into the form's text area.
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (input && input.id === "task-file" && input.files && input.files[0]) {
      input.files[0].text().then(function (text) {
        var area = document.getElementById("task");
        if (area) area.value = text;
      });
    }
  });

  // Log filter: hides lines that do not contain the text (new lines too).
  function applyFilter() {
    var f = document.getElementById("log-filter");
    var log = document.getElementById("log");
    if (!f || !log) return;
    var needle = f.value.toLowerCase();
    log.querySelectorAll(".ll").forEach(function (line) {
      line.hidden = needle !== "" && line.textContent.toLowerCase().indexOf(needle) < 0;
    });
  }
  document.addEventListener("input", function (e) {
    if (e.target && e.target.id === "log-filter") applyFilter();
  });

  // Keep a live log scrolled to the bottom unless the reader scrolled up.
  document.addEventListener("htmx:sseMessage", function (e) {
    var log = document.getElementById("log");
    if (!log || !log.contains(e.target)) return;
    applyFilter();
    if (log.scrollHeight - log.scrollTop - log.clientHeight < 80) log.scrollTop = log.scrollHeight;
  });
})();
