"""Sortable, filterable tables that download as CSV: one small script for every table of a page.

:func:`table_script` returns the ``<script>`` :func:`allocator.report.tables.page` puts at the end
of every page. It leaves the tables' HTML as :func:`~allocator.report.tables.html_table` wrote it
and adds, in the browser, above each table: a text box that hides the rows not containing what is
typed, a button that downloads the rows shown as a CSV file (UTF-8 with a byte-order mark, so
Excel opens Chinese text), and a click on a column header sorts by that column (numbers as
numbers, ``12,346`` and ``38%`` included; a second click reverses). Wide tables scroll inside their
box. The labels of the box and the button come from :class:`allocator.i18n.Words`.
"""

from __future__ import annotations

import json

from allocator.i18n import Words

__all__ = ["TABLE_CSS", "table_script"]

#: The style of the table tools and of the box a table scrolls in.
TABLE_CSS = """
.table-box{overflow-x:auto;max-width:100%;margin:.2em 0 1.2em}.table-box table{margin:0}
.table-tools{display:flex;gap:.5em;align-items:center;margin:.6em 0 .2em;font-size:.88em}
.table-tools input{padding:.2em .4em;border:1px solid #bbb;border-radius:4px;min-width:14em}
.table-tools button{padding:.2em .7em;border:1px solid #1f77b4;background:#fff;color:#1f77b4;
border-radius:4px;cursor:pointer}.table-tools button:hover{background:#eaf2fa}
th.sortable{cursor:pointer;user-select:none}th.sortable:hover{background:#e3ebf5}
th[data-order=asc]::after{content:" \\25B2";font-size:.7em}
th[data-order=desc]::after{content:" \\25BC";font-size:.7em}
.figure{border:1px solid #eee;margin:.4em 0 1em}
"""

_SCRIPT = r"""
(function () {
  var L = %LABELS%;
  function text(cell) { return (cell.innerText || cell.textContent || "").trim(); }
  function number(s) {
    var t = s.replace(/[,\s¥%]/g, "").replace(/\u2212/g, "-");
    if (t === "" || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return null;
    return parseFloat(t);
  }
  function csvCell(s) { return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; }
  function title(table, k) {
    var el = table.closest(".table-box");
    while (el && (el = el.previousElementSibling)) {
      if (/^H[1-4]$/.test(el.tagName)) return text(el);
    }
    var s = table.closest("details");
    if (s && s.querySelector("summary")) return text(s.querySelector("summary"));
    return "table-" + k;
  }
  function fileName(name) {
    return name.replace(/[\\\/:*?"<>|\s]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 80) || "table";
  }
  function setUp(table, k) {
    var rows = Array.prototype.slice.call(table.rows);
    if (!rows.length || !rows[0].querySelector("th")) return;
    var head = table.createTHead();
    head.appendChild(rows[0]);
    var body = table.tBodies[0] || table.appendChild(document.createElement("tbody"));
    var box = document.createElement("div");
    box.className = "table-box";
    table.parentNode.insertBefore(box, table);
    box.appendChild(table);
    var tools = document.createElement("div");
    tools.className = "table-tools";
    var input = document.createElement("input");
    input.type = "search";
    input.placeholder = L.filter;
    input.setAttribute("aria-label", L.filter);
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = L.csv;
    button.title = L.csvTitle;
    tools.appendChild(input);
    tools.appendChild(button);
    box.parentNode.insertBefore(tools, box);
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(body.rows, function (r) {
        r.style.display = !q || text(r).toLowerCase().indexOf(q) >= 0 ? "" : "none";
      });
    });
    var name = fileName(title(table, k)) + ".csv";
    button.addEventListener("click", function () {
      var lines = [Array.prototype.map.call(head.rows[0].cells, function (c) {
        return csvCell(c.textContent.trim());
      }).join(",")];
      Array.prototype.forEach.call(body.rows, function (r) {
        if (r.style.display === "none") return;
        lines.push(Array.prototype.map.call(r.cells, function (c) {
          return csvCell(text(c));
        }).join(","));
      });
      var blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], {type: "text/csv;charset=utf-8"});
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = name;
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 0);
    });
    Array.prototype.forEach.call(head.rows[0].cells, function (th, j) {
      th.classList.add("sortable");
      th.title = L.sort;
      th.addEventListener("click", function () {
        var order = th.getAttribute("data-order") === "asc" ? "desc" : "asc";
        Array.prototype.forEach.call(head.rows[0].cells, function (o) {
          o.removeAttribute("data-order");
        });
        th.setAttribute("data-order", order);
        var sign = order === "asc" ? 1 : -1;
        var list = Array.prototype.slice.call(body.rows).map(function (r, i) {
          var s = r.cells[j] ? text(r.cells[j]) : "";
          return {row: r, s: s, n: number(s), i: i};
        });
        list.sort(function (a, b) {
          if (a.n !== null && b.n !== null && a.n !== b.n) return sign * (a.n - b.n);
          if ((a.n === null) !== (b.n === null)) return a.n === null ? 1 : -1;
          var c = a.s.localeCompare(b.s, L.locale);
          return c ? sign * c : a.i - b.i;
        });
        list.forEach(function (x) { body.appendChild(x.row); });
      });
    });
  }
  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("table"), setUp);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
"""


def table_script(words: Words) -> str:
    """The ``<script>`` that makes every table of the page sortable, filterable and downloadable.

    Parameters
    ----------
    words : allocator.i18n.Words
        The language of the box's placeholder, the button and their tips.

    Returns
    -------
    str

    Examples
    --------
    >>> script = table_script(Words("en"))
    >>> script.startswith("<script>") and '"csv": "CSV"' in script
    True
    """
    labels = {
        "filter": words("table.filter"),
        "csv": words("table.csv"),
        "csvTitle": words("table.csv_title"),
        "sort": words("table.sort"),
        "locale": "zh-CN" if words.language == "zh" else "en",
    }
    text = json.dumps(labels, ensure_ascii=False).replace("</", "<\\/")
    return "<script>" + _SCRIPT.replace("%LABELS%", text) + "</script>"
