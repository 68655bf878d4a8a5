// Sluice monitor: the live log tail, and confirmation of bulk actions. No build step; runs as is.
(function () {
  "use strict";

  function row(line) {
    var tr = document.createElement("tr");
    tr.className = "l-" + line.level;
    [["seq", line.seq], ["at", line.at], ["lvl", line.level], ["msg", line.message]].forEach(function (c) {
      var td = document.createElement("td");
      td.className = c[0];
      td.textContent = String(c[1]); // text, never markup: a log line is data
      tr.appendChild(td);
    });
    return tr;
  }

  // Follows a run's log: each `lines` event carries the lines after the last one shown, and its
  // id is the last line's number, which the browser sends back when it reconnects.
  function tail(table) {
    var body = table.tBodies[0];
    var after = Number(table.dataset.after || 0);
    var url = table.dataset.live + (table.dataset.live.indexOf("?") < 0 ? "?" : "&") + "after=" + after;
    var source = new EventSource(url);
    table.dataset.following = "true";
    source.addEventListener("lines", function (e) {
      var lines = JSON.parse(e.data);
      var scroller = document.scrollingElement;
      var atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
      var frag = document.createDocumentFragment();
      lines.forEach(function (l) {
        if (l.seq > after) {
          frag.appendChild(row(l));
          after = l.seq;
        }
      });
      body.appendChild(frag);
      table.dataset.after = String(after);
      var empty = document.getElementById("log-empty");
      if (empty) empty.remove();
      if (atBottom && lines.length) scroller.scrollTop = scroller.scrollHeight;
    });
    source.addEventListener("end", function () {
      source.close();
      table.dataset.following = "ended";
    });
    source.addEventListener("error", function () {
      // CLOSED: the server refused (signed out); CONNECTING: the browser is reconnecting.
      if (source.readyState === EventSource.CLOSED) table.dataset.following = "stopped";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.log[data-live]").forEach(tail);
    document.querySelectorAll("form [data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (e) {
        if (!window.confirm(button.dataset.confirm)) e.preventDefault();
      });
    });
  });
})();
