/* django-personalize admin: results charts (Chart.js, vendored). Data comes from json_script. */
(function () {
  "use strict";
  var script = document.currentScript;
  var id = script && script.getAttribute("data-chart");
  var source = id && document.getElementById(id);
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var lang = document.documentElement.lang || undefined;
  function money(value) {  // PRICE_FORMAT around the amount, as the tables write it
    var number = Number(value);
    var amount = Math.abs(number).toLocaleString(lang, { minimumFractionDigits: 0, maximumFractionDigits: 2 });
    return (number < 0 ? "−" : "") + (data.money_format || "{amount}").replace("{amount}", amount);
  }

  var arms = document.getElementById(id + "-arms");
  if (arms) {
    new Chart(arms, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: data.text.revenue, data: data.datasets.revenue_per_shopper, yAxisID: "y", backgroundColor: "#417690" },
          { label: data.text.conversion, data: data.datasets.conversion_rate, yAxisID: "y1", backgroundColor: "#f5dd5d" }
        ]
      },
      options: {
        responsive: true,
        plugins: { tooltip: { callbacks: { label: function (c) {
          return c.dataset.label + ": " + (c.dataset.yAxisID === "y" ? money(c.parsed.y) : c.parsed.y + "%");
        } } } },
        scales: {
          y: { beginAtZero: true, position: "left", title: { display: true, text: data.text.revenue }, ticks: { callback: money } },
          y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: data.text.conversion } }
        }
      }
    });
  }

  var lift = document.getElementById(id + "-lift");
  if (lift && data.lift && data.lift.labels.length) {
    var ranges = data.lift.ranges.map(function (r) { return r || [0, 0]; });
    new Chart(lift, {
      data: {
        labels: data.lift.labels,
        datasets: [
          {
            type: "bar",
            label: data.text.lift,
            data: ranges,
            backgroundColor: ranges.map(function (r) {
              return r[0] > 0 ? "rgba(40,167,69,0.45)" : (r[1] < 0 ? "rgba(186,33,33,0.45)" : "rgba(120,120,120,0.35)");
            }),
            barPercentage: 0.4
          },
          { type: "scatter", label: "", data: data.lift.points.map(function (p, i) { return { x: data.lift.labels[i], y: p }; }), backgroundColor: "#333", pointRadius: 5 }
        ]
      },
      options: {
        indexAxis: "x",
        plugins: { legend: { labels: { filter: function (item) { return item.text; } } } },
        scales: { y: { title: { display: false }, ticks: { callback: money } } }
      }
    });
  }
})();
