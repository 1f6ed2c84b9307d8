/* django-personalize admin: "Is personalisation paying off?" charts (Chart.js, vendored). */
(function () {
  "use strict";
  var source = document.getElementById("pz-dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var colours = ["#417690", "#f5a623", "#79aec8", "#2e8540", "#ba2121"];
  var lang = document.documentElement.lang || undefined;
  function money(value) {  // PRICE_FORMAT around the amount, as the tables write it
    var amount = Number(value).toLocaleString(lang, { minimumFractionDigits: 0, maximumFractionDigits: 2 });
    return (data.money_format || "{amount}").replace("{amount}", amount);
  }
  Chart.defaults.animation = false;

  var attributed = document.getElementById("pz-attributed");
  if (attributed && data.series) {
    new Chart(attributed, {
      type: "bar",
      data: {
        labels: data.series.labels,
        datasets: data.series.datasets.map(function (d, i) {
          return { label: d.label, data: d.values, backgroundColor: colours[i % colours.length], stack: "revenue" };
        })
      },
      options: {
        responsive: true,
        plugins: { tooltip: { callbacks: { label: function (c) { return c.dataset.label + ": " + money(c.parsed.y); } } } },
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: data.text.revenue }, ticks: { callback: money } } }
      }
    });
  }

  var ctr = document.getElementById("pz-ctr");
  if (ctr && data.ctr) {
    new Chart(ctr, {
      type: "bar",
      data: { labels: data.ctr.labels, datasets: [{ label: data.text.ctr, data: data.ctr.values, backgroundColor: "#417690" }] },
      options: { indexAxis: "y", responsive: true, scales: { x: { beginAtZero: true, title: { display: true, text: data.text.ctr } } } }
    });
  }
})();
