// Retentio: charts from <script type="application/json" data-chart="ID"> blocks, auto-submitting
// filter forms, sortable tables.  No inline script anywhere (the CSP forbids it).
(function () {
  "use strict";
  var cfg = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"]};
  document.querySelectorAll("script[data-chart]").forEach(function (el) {
    var id = el.getAttribute("data-chart");
    var target = document.getElementById(id);
    if (!target || typeof Plotly === "undefined") return;
    var spec = JSON.parse(el.textContent);
    var layout = Object.assign({paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
                                font: {family: "system-ui, sans-serif", size: 12}}, spec.layout || {});
    Plotly.newPlot(target, spec.data, layout, cfg);
    if (spec.links) {
      target.on("plotly_click", function (ev) {
        var x = ev.points && ev.points[0] && ev.points[0].x;
        if (spec.links[x]) {
          var params = new URLSearchParams(window.location.search);
          params.set("type", spec.links[x]);
          window.location = "/movements?" + params.toString();
        }
      });
    }
  });
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (s) {
    s.addEventListener("change", function () { s.form.submit(); });
  });
  document.querySelectorAll("[data-back]").forEach(function (a) {
    a.addEventListener("click", function (e) { if (history.length > 1) { e.preventDefault(); history.back(); } });
  });
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, i) {
      th.classList.add("clickable");
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var asc = th.getAttribute("data-order") !== "asc";
        table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("data-order"); });
        th.setAttribute("data-order", asc ? "asc" : "desc");
        function key(r) {
          var c = r.cells[i];
          if (!c) return "";
          var v = c.getAttribute("data-sort");
          if (v !== null && v !== "" && !isNaN(v)) return parseFloat(v);
          return c.textContent.trim().toLowerCase();
        }
        rows.sort(function (a, b) {
          var x = key(a), y = key(b);
          if (x < y) return asc ? -1 : 1;
          if (x > y) return asc ? 1 : -1;
          return 0;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
