// Draws the dashboard's charts with the vendored Chart.js. Every data set differs by more
// than colour (dash pattern, point shape, bar border) and the legend names it; each chart has
// a table under it with the same numbers.
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var colours = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a"];
  var dashes = [[], [6, 4], [2, 3], [10, 3, 2, 3], [1, 1], [12, 6]];
  var points = ["circle", "triangle", "rect", "crossRot", "star", "rectRot"];
  function draw(id, series) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    var line = series.kind === "line";
    var sets = series.datasets.map(function (d, i) {
      var colour = colours[i % colours.length];
      return {
        label: d.label,
        data: d.data,
        borderColor: colour,
        backgroundColor: line ? colour : colour + "99",
        borderDash: dashes[i % dashes.length],
        pointStyle: points[i % points.length],
        pointRadius: line ? 3 : 0,
        borderWidth: line ? 2 : (i + 1),
        spanGaps: true
      };
    });
    new Chart(canvas, {
      type: line ? "line" : "bar",
      data: { labels: series.labels, datasets: sets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: { legend: { labels: { usePointStyle: true } } },
        scales: {
          x: { stacked: !line },
          y: { stacked: !line, beginAtZero: true, title: { display: true, text: series.unit } }
        }
      }
    });
    canvas.setAttribute("data-drawn", "1");
  }
  Object.keys(data).forEach(function (id) { draw(id, data[id]); });
})();
