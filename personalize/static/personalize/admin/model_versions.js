/* django-personalize admin: a model version's metric beside the other versions (Chart.js, vendored). */
(function () {
  "use strict";
  var source = document.getElementById("pz-version-chart-data");
  var canvas = document.getElementById("pz-version-chart");
  if (!source || !canvas || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  Chart.defaults.animation = false;
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [
        { label: data.text.model, data: data.model,
          backgroundColor: data.current.map(function (c) { return c ? "#f5a623" : "#417690"; }) },
        { label: data.text.baseline, data: data.baseline, type: "line", borderColor: "#999", backgroundColor: "#999", pointRadius: 3 }
      ]
    },
    options: { responsive: true, scales: { y: { beginAtZero: true, suggestedMax: 1 } } }
  });
})();
