// Analytics pages: draws each <canvas data-chart="name"> with Chart.js from the JSON endpoint named by
// the enclosing [data-chart-source]. A series is a table (columns, rows) with a hint: x column, y columns,
// and optionally the column(s) whose values split the rows into one dataset each. The same figures are in
// the table next to each chart, so a failed fetch leaves the page usable.
(function () {
  "use strict";
  const PALETTE = ["#1a5ca8", "#d97706", "#15803d", "#b3261e", "#7c3aed", "#0e7490", "#a16207", "#be185d", "#4a5565"];

  function column(series, name) {
    return series.columns.indexOf(name);
  }

  function datasetsOf(series) {
    const hint = series.chart;
    const xi = column(series, hint.x);
    const labels = [];
    series.rows.forEach(function (row) {
      if (labels.indexOf(row[xi]) === -1) labels.push(row[xi]);
    });
    const datasets = [];
    if (hint.group) {
      const groupColumns = hint.group.split(",").map(function (name) { return column(series, name); });
      const yi = column(series, hint.y[0]);
      const byGroup = new Map();
      series.rows.forEach(function (row) {
        const key = groupColumns.map(function (i) { return row[i]; }).join(" · ");
        if (!byGroup.has(key)) byGroup.set(key, new Array(labels.length).fill(null));
        byGroup.get(key)[labels.indexOf(row[xi])] = row[yi];
      });
      byGroup.forEach(function (values, key) { datasets.push({ label: String(key), data: values }); });
    } else {
      hint.y.forEach(function (name) {
        const yi = column(series, name);
        const values = new Array(labels.length).fill(null);
        series.rows.forEach(function (row) { values[labels.indexOf(row[xi])] = row[yi]; });
        datasets.push({ label: name.replace(/_/g, " "), data: values });
      });
    }
    datasets.forEach(function (dataset, i) {
      const color = PALETTE[i % PALETTE.length];
      dataset.borderColor = color;
      dataset.backgroundColor = hint.type === "bar" ? color : color + "33";
      dataset.spanGaps = true;
    });
    return { labels: labels.map(String), datasets: datasets };
  }

  function draw(canvas, series) {
    const hint = series.chart;
    const data = datasetsOf(series);
    new window.Chart(canvas, {
      type: hint.type,
      data: data,
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: { x: { stacked: hint.stacked }, y: { stacked: hint.stacked, beginAtZero: true } },
        plugins: { legend: { display: data.datasets.length > 1 } },
      },
    });
    const points = data.datasets.reduce(function (sum, d) {
      return sum + d.data.filter(function (v) { return v !== null; }).length;
    }, 0);
    canvas.dataset.drawnPoints = String(points);
  }

  function fail(container, message) {
    container.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      const note = document.createElement("p");
      note.className = "chart-error small";
      note.textContent = message;
      canvas.parentNode.replaceWith(note);
    });
  }

  function load(container) {
    if (!window.Chart) return fail(container, "The chart library did not load; the tables hold the figures.");
    fetch(container.dataset.chartSource, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (overview) {
        const byName = new Map(overview.series.map(function (s) { return [s.name, s]; }));
        container.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
          const series = byName.get(canvas.dataset.chart);
          if (series && series.chart && series.rows.length) draw(canvas, series);
        });
      })
      .catch(function () { fail(container, "The chart could not be loaded; the table holds the figures."); });
  }

  document.querySelectorAll("[data-chart-source]").forEach(load);
})();
