/* Lifecycle email report: emails sent and clicked, orders and revenue recovered, per day. */
(function () {
  "use strict";
  function draw() {
    var canvas = document.getElementById("email-report-chart");
    var source = document.getElementById("email-report-data");
    if (!canvas || !source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var labels = JSON.parse(document.getElementById("email-report-labels").textContent);
    var lang = document.documentElement.lang || undefined;
    function money(value) {  // PRICE_FORMAT around the amount, as the table writes it
      var amount = Number(value).toLocaleString(lang, { minimumFractionDigits: 0, maximumFractionDigits: 2 });
      return (data.money_format || "{amount}").replace("{amount}", amount);
    }
    new Chart(canvas, {
      data: {
        labels: data.labels,
        datasets: [
          { type: "line", label: labels.sent, data: data.sent, yAxisID: "count", tension: 0.2 },
          { type: "line", label: labels.clicked, data: data.clicked, yAxisID: "count", tension: 0.2 },
          { type: "line", label: labels.orders, data: data.orders, yAxisID: "count", tension: 0.2 },
          { type: "bar", label: labels.revenue, data: data.revenue, yAxisID: "revenue" }
        ]
      },
      options: {
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: { tooltip: { callbacks: { label: function (c) {
          return c.dataset.label + ": " + (c.dataset.yAxisID === "revenue" ? money(c.parsed.y) : c.parsed.y);
        } } } },
        scales: {
          count: { type: "linear", position: "left", beginAtZero: true, ticks: { precision: 0 } },
          revenue: { type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { callback: money } }
        }
      }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
