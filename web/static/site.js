// Small behaviours the pages share (no inline scripts: the CSP allows only the site's files).
//
// 1. Click a column header of a table.sortable to sort its rows (numbers by value, text by pinyin
// collation); click again to reverse. Headers opt in with data-sort="num" or data-sort="text".
(function () {
  function key(cell, kind) {
    var text = (cell && (cell.getAttribute("data-value") || cell.textContent) || "").trim();
    if (kind === "num") {
      var n = parseFloat(text.replace(/[^0-9.\-]/g, ""));
      return isNaN(n) ? -Infinity : n;
    }
    return text;
  }
  function sort(th) {
    var table = th.closest("table");
    var body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var kind = th.getAttribute("data-sort");
    var descending = th.getAttribute("aria-sort") !== "descending";
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[index], kind), y = key(b.cells[index], kind);
      var c = kind === "num" ? x - y : String(x).localeCompare(String(y), "zh-CN");
      return descending ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.addEventListener("click", function (e) {
    var th = e.target.closest && e.target.closest("table.sortable th[data-sort]");
    if (th) { sort(th); }
  });
  document.addEventListener("keydown", function (e) {
    var th = e.target.closest && e.target.closest("table.sortable th[data-sort]");
    if (th && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); sort(th); }
  });
})();

// 2. A button with data-print prints the page (the print stylesheet hides navigation).
document.addEventListener("click", function (e) {
  var button = e.target.closest && e.target.closest("[data-print]");
  if (button) { e.preventDefault(); window.print(); }
});
