"""The dashboard page's fixed parts: style and script (inline: the page opens from file:// with no network).

The script reads the filter from the URL's fragment (#q=...&kernel=...&strategy=...&changed=1), so that a filtered
view can be linked and tested, applies it to the charts (a chart that does not match gets the hidden attribute),
and writes the filter back into the fragment as it changes. When it has run it sets data-ready on <body>.
"""

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5em 2em; color: #222; background: #fff; }
header { position: sticky; top: 0; background: #fff; padding: .6em 0; border-bottom: 1px solid #ddd; z-index: 1; }
h1 { font-size: 1.3em; margin: .2em 0; }
h2 { font: 600 13px/1.3 ui-monospace, monospace; margin: 0 0 .2em; word-break: break-all; }
form { display: flex; flex-wrap: wrap; gap: .6em; align-items: center; margin: .4em 0; }
input[type=search] { width: 22em; padding: .25em; }
.meta, .summary, .legend { color: #555; font-size: 12px; margin: .1em 0; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 1em; margin-top: 1em; }
section.chart { border: 1px solid #ddd; border-radius: 4px; padding: .5em; }
svg { width: 100%; height: auto; display: block; }
.axis { stroke: #888; stroke-width: 1; }
.grid { stroke: #eee; stroke-width: 1; }
.tick { font: 10px sans-serif; fill: #555; }
.trend { fill: none; stroke-width: 1.2; }
.interval { stroke-width: 1; opacity: .55; }
.point circle { stroke: #fff; stroke-width: .6; }
.point.noisy circle { fill: #fff !important; stroke: #e07000; stroke-width: 1.6; }
.point:hover circle { r: 4; }
.changepoint line { stroke: #c00; stroke-width: 1.2; stroke-dasharray: 4 3; }
.changepoint text { font: 600 10px sans-serif; fill: #c00; }
.key-noisy { stroke: #e07000; fill: #fff; stroke-width: 1.6; }
"""

SCRIPT = """
(function () {
  "use strict";
  var charts = Array.prototype.slice.call(document.querySelectorAll("section.chart"));
  var q = document.getElementById("q"), kernel = document.getElementById("kernel");
  var strategy = document.getElementById("strategy"), changed = document.getElementById("changed");
  var count = document.getElementById("count");
  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    q.value = params.get("q") || "";
    kernel.value = params.get("kernel") || "";
    strategy.value = params.get("strategy") || "";
    changed.checked = params.get("changed") === "1";
  }
  function writeHash() {
    var params = new URLSearchParams();
    if (q.value) params.set("q", q.value);
    if (kernel.value) params.set("kernel", kernel.value);
    if (strategy.value) params.set("strategy", strategy.value);
    if (changed.checked) params.set("changed", "1");
    try { history.replaceState(null, "", "#" + params.toString()); } catch (e) { /* some file:// views */ }
  }
  function apply() {
    var words = q.value.toLowerCase().split(/\\s+/).filter(Boolean), shown = 0;
    charts.forEach(function (c) {
      var name = c.getAttribute("data-name").toLowerCase();
      var ok = words.every(function (w) { return name.indexOf(w) >= 0; }) &&
        (!kernel.value || c.getAttribute("data-kernel") === kernel.value) &&
        (!strategy.value || c.getAttribute("data-strategy") === strategy.value) &&
        (!changed.checked || c.getAttribute("data-changepoints") !== "0");
      c.hidden = !ok;
      if (ok) shown += 1;
    });
    count.textContent = shown + " of " + charts.length + " charts shown";
  }
  readHash();
  apply();
  [q, kernel, strategy, changed].forEach(function (el) {
    el.addEventListener("input", function () { apply(); writeHash(); });
    el.addEventListener("change", function () { apply(); writeHash(); });
  });
  window.addEventListener("hashchange", function () { readHash(); apply(); });
  document.body.setAttribute("data-ready", "1");
})();
"""
