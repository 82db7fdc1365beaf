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

  // The running bar of a run's waterfall grows with the time (up to the chart's edge).
  function grow() {
    var now = Date.now();
    document.querySelectorAll("#waterfall rect[data-t0]").forEach(function (r) {
      var t0 = Date.parse(r.getAttribute("data-t0"));
      var start = parseFloat(r.getAttribute("data-start"));
      var pxps = parseFloat(r.getAttribute("data-pxps"));
      var max = parseFloat(r.getAttribute("data-max"));
      if (isNaN(t0) || isNaN(start) || isNaN(pxps)) return;
      var w = Math.max(2, Math.min(max, ((now - t0) / 1000 - start) * pxps));
      r.setAttribute("width", w.toFixed(1));
    });
  }
  setInterval(grow, 1000);

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

  // Actions confirm in the page (not the browser's dialog) and say their result in a toast.
  document.addEventListener("htmx:confirm", function (e) {
    var question = e.detail && e.detail.question;
    var dialog = document.getElementById("confirm");
    if (!question || !dialog || typeof dialog.showModal !== "function") return;
    e.preventDefault();
    document.getElementById("confirm-text").textContent = question;
    var yes = document.getElementById("confirm-yes");
    var no = document.getElementById("confirm-no");
    function close(go) {
      yes.onclick = null; no.onclick = null; dialog.onclose = null;
      if (dialog.open) dialog.close();
      if (go) e.detail.issueRequest(true);
    }
    yes.onclick = function () { close(true); };
    no.onclick = function () { close(false); };
    dialog.onclose = function () { close(false); };
    dialog.showModal();
    yes.focus();
  });
  function toast(text, bad) {
    var box = document.getElementById("toasts");
    if (!box || !text) return;
    var t = document.createElement("div");
    t.className = "toast" + (bad ? " bad" : "");
    t.textContent = text;
    box.appendChild(t);
    setTimeout(function () { t.remove(); }, 8000);
  }
  document.addEventListener("orx-toast", function (e) {
    toast(e.detail && e.detail.text, e.detail && e.detail.bad);
  });
  document.addEventListener("htmx:responseError", function (e) {
    var xhr = e.detail && e.detail.xhr;
    if (xhr && e.detail.requestConfig && e.detail.requestConfig.verb === "post") {
      toast("The action failed (" + xhr.status + "): " + (xhr.responseText || "").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 200), true);
    }
  });

  // Log filters: the text, the level (warnings and errors, errors) and the stage; new lines
  // too.
  // A stage's name in the event log folds its steps to the first (and opens them again).
  var folded = {};
  document.addEventListener("click", function (e) {
    var stg = e.target && e.target.closest && e.target.closest("#log .stg");
    if (!stg) return;
    var row = stg.closest(".ll");
    var stage = row && row.getAttribute("data-stage");
    if (!stage) return;
    e.preventDefault();
    folded[stage] = !folded[stage];
    applyFilter();
  });
  function applyFilter() {
    var log = document.getElementById("log");
    if (!log) return;
    var seen = {};
    var f = document.getElementById("log-filter");
    var lv = document.getElementById("log-level");
    var st = document.getElementById("log-stage");
    var needle = f ? f.value.toLowerCase() : "";
    var level = lv ? lv.value : "";
    var stage = st ? st.value : "";
    log.querySelectorAll(".ll").forEach(function (line) {
      var c = line.classList;
      var hide = (needle !== "" && line.textContent.toLowerCase().indexOf(needle) < 0) ||
        (level === "err" && !c.contains("l-err")) ||
        (level === "warn" && !c.contains("l-err") && !c.contains("l-warn")) ||
        (stage !== "" && line.getAttribute("data-stage") !== stage);
      var own = line.getAttribute("data-stage");
      if (own && folded[own] && seen[own]) hide = true;
      if (own) {
        if (!seen[own]) line.classList.toggle("folded", !!folded[own]);
        seen[own] = true;
      }
      line.hidden = hide;
    });
  }
  document.addEventListener("input", function (e) {
    if (e.target && e.target.id === "log-filter") applyFilter();
  });
  document.addEventListener("change", function (e) {
    if (e.target && (e.target.id === "log-level" || e.target.id === "log-stage")) applyFilter();
  });

  // An address that names a line (#L12) or a diff's file (#f-…) shows it, also when the view
  // came in after the page (a tab swapped in): the line is scrolled to, the file opened.
  function showTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!id) return;
    // A line of a diff's file: #f-…-R12 (12 in the new file).
    var m = /^(f-[A-Za-z0-9_]+)-R(\d+)$/.exec(id);
    if (m) {
      var file = document.getElementById(m[1]);
      var line = file && file.querySelector('[data-new="' + m[2] + '"]');
      if (!line) return;
      file.open = true;
      document.querySelectorAll(".diff .hit").forEach(function (l) { l.classList.remove("hit"); });
      line.classList.add("hit");
      line.scrollIntoView({ block: "center" });
      return;
    }
    var el = document.getElementById(id);
    if (!el) return;
    if (el.tagName === "DETAILS") el.open = true;
    el.scrollIntoView({ block: /^L\d+$/.test(id) ? "center" : "start" });
  }
  window.addEventListener("hashchange", showTarget);
  document.addEventListener("DOMContentLoaded", showTarget);
  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.target && e.target.id === "tab-body") showTarget();
    if (e.target && e.target.id === "preview") {
      // A search hit opens its file at its line; any file shows where the reader is.
      var from = e.detail && e.detail.requestConfig && e.detail.requestConfig.elt;
      var line = from && from.getAttribute && from.getAttribute("data-line");
      if (line) {
        history.replaceState(history.state, "", "#L" + line);
        showTarget();
      } else if (e.target.getBoundingClientRect().top < 0) {
        e.target.scrollIntoView({ block: "start" });
      }
    }
  });

  // Keep a live log scrolled to the bottom unless the reader scrolled up.
  document.addEventListener("htmx:sseMessage", function (e) {
    var log = document.getElementById("log");
    if (!log || !log.contains(e.target)) return;
    applyFilter();
    if (log.scrollHeight - log.scrollTop - log.clientHeight < 80) log.scrollTop = log.scrollHeight;
  });

  // Diff comments: a click on a line's number picks it (shift-click: a range in the same
  // file); "Add comment" keeps it in the list; "Send to agent" starts a follow-up run.
  var picked = null;
  function field(id) { return document.getElementById(id); }
  function mark() {
    document.querySelectorAll(".diff .sel").forEach(function (l) { l.classList.remove("sel"); });
    if (!picked) return;
    var a = Math.min(picked.start, picked.end), b = Math.max(picked.start, picked.end);
    document.querySelectorAll(".file").forEach(function (f) {
      if (f.getAttribute("data-file") !== picked.path) return;
      f.querySelectorAll("[data-new]").forEach(function (l) {
        var n = +l.getAttribute("data-new");
        if (n >= a && n <= b) l.classList.add("sel");
      });
    });
  }
  function showError(text) {
    var e = field("rc-error");
    if (!e) return;
    e.textContent = text;
    e.hidden = !text;
  }
  document.addEventListener("click", function (e) {
    var t = e.target;
    var line = t.closest && t.closest(".diff [data-new]");
    if (line) {
      // The line's address: #<file>-R<n>, to share or come back to.
      var f = line.closest(".file");
      if (f && f.id) history.replaceState(history.state, "", "#" + f.id + "-R" + line.getAttribute("data-new"));
    }
    if (line && field("review")) {
      var file = line.closest(".file");
      var path = file ? file.getAttribute("data-file") : "";
      var n = +line.getAttribute("data-new");
      if (e.shiftKey && picked && picked.path === path) picked.end = n;
      else picked = { path: path, start: n, end: n };
      field("rc-path").value = path;
      field("rc-start").value = Math.min(picked.start, picked.end);
      field("rc-end").value = Math.max(picked.start, picked.end);
      mark();
      field("rc-body").focus();
      return;
    }
    if (t.id === "rc-add") {
      var body = field("rc-body").value.trim();
      var start = +field("rc-start").value, end = +field("rc-end").value || start;
      if (!body || !start) { showError("Pick a line (or type its number) and write the comment first."); return; }
      showError("");
      var li = document.createElement("li");
      li.setAttribute("data-path", field("rc-path").value);
      li.setAttribute("data-start", Math.min(start, end));
      li.setAttribute("data-end", Math.max(start, end));
      li.setAttribute("data-body", body);
      var where = li.getAttribute("data-path") + ":" + li.getAttribute("data-start") +
        (end !== start ? "-" + li.getAttribute("data-end") : "");
      li.textContent = where + " — " + body + " ";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "rc-remove";
      remove.textContent = "remove";
      remove.setAttribute("aria-label", "remove the comment on " + where);
      li.appendChild(remove);
      field("rc-list").appendChild(li);
      field("rc-body").value = "";
      picked = null;
      mark();
      field("rc-send").disabled = false;
      return;
    }
    if (t.classList && t.classList.contains("rc-remove")) {
      t.parentNode.remove();
      field("rc-send").disabled = !field("rc-list").children.length;
      return;
    }
    if (t.id === "rc-send") {
      var review = field("review");
      var comments = Array.prototype.map.call(field("rc-list").children, function (li) {
        return {
          path: li.getAttribute("data-path"),
          start_line: +li.getAttribute("data-start"),
          line: +li.getAttribute("data-end"),
          body: li.getAttribute("data-body")
        };
      });
      var token = document.querySelector("meta[name='csrf-token']");
      t.disabled = true;
      fetch("/api/runs/" + encodeURIComponent(review.getAttribute("data-run")) + "/followup", {
        method: "POST",
        headers: { "content-type": "application/json", "x-orx-csrf": token ? token.content : "" },
        body: JSON.stringify({ text: field("rc-text").value, comments: comments })
      }).then(function (r) {
        return r.json().then(function (j) {
          if (r.ok && j.url) { window.location.href = j.url; return; }
          t.disabled = false;
          showError((j.error || "the follow-up was refused") + (j.fix ? " — " + j.fix : ""));
        });
      }).catch(function () {
        t.disabled = false;
        showError("The dashboard did not answer; is it still running?");
      });
    }
  });

  // Keyboard: 1–5 open a run's tabs; j and k move between the runs in the runs tables (Enter
  // opens the one with focus). Keys typed into a field, or with a modifier, are left alone.
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var tabs = document.querySelectorAll("[role=tablist] [role=tab]");
    if (/^[1-5]$/.test(e.key) && tabs.length) {
      var tab = tabs[+e.key - 1];
      if (tab) { tab.click(); tab.focus(); e.preventDefault(); }
      return;
    }
    if (e.key === "j" || e.key === "k") {
      var links = Array.prototype.slice.call(document.querySelectorAll("table.runs tbody tr td:first-child a"));
      if (!links.length) return;
      var at = links.indexOf(document.activeElement);
      var next = e.key === "j" ? Math.min(at + 1, links.length - 1) : Math.max(at - 1, 0);
      if (at < 0) next = 0;
      links[next].focus();
      e.preventDefault();
    }
  });

  // A run's status change is said in the page's live region (the header itself is redrawn
  // whole, which screen readers do not announce).
  var lastStatus = null;
  document.addEventListener("htmx:afterSettle", function () {
    var pill = document.getElementById("run-status");
    var say = document.getElementById("announce");
    if (!pill || !say) return;
    var now = pill.textContent.trim();
    if (lastStatus !== null && now !== lastStatus) say.textContent = "The run is now " + now + ".";
    lastStatus = now;
  });
  document.addEventListener("DOMContentLoaded", function () {
    var pill = document.getElementById("run-status");
    if (pill) lastStatus = pill.textContent.trim();
  });
})();
