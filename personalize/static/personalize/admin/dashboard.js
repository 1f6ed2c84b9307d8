/* django-personalize admin: "Is personalisation paying off?" charts (Chart.js, vendored). */
(function () {
  "use strict";
  var source = document.getElementById("pz-dashboard-data");
  if (!source || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var colours = ["#417690", "#f5a623", "#79aec8", "#2e8540", "#ba2121"];
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
      options: { responsive: true, scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, title: { display: true, text: data.text.revenue } } } }
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
