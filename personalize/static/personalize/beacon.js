/* django-personalize beacon. <script src=".../beacon.js" data-endpoint="/personalize/api/events/" defer>
 * Records impressions and clicks of [data-personalize-widget] [data-product-id]; personalize.track(kind, data). */
(function (window, document) {
  "use strict";
  var api = window.personalize = window.personalize || {};
  if (api.track) return;
  var script = document.currentScript;
  var endpoint = (script && script.getAttribute("data-endpoint")) || "/personalize/api/events/";
  var MAX_BATCH = 50, ITEM = "[data-personalize-widget] [data-product-id]";
  var queue = [], seen = {};

  function post(events) {
    var body = JSON.stringify({ events: events });
    try {
      if (navigator.sendBeacon(endpoint, new Blob([body], { type: "application/json" }))) return;
    } catch (e) { /* no sendBeacon: fetch */ }
    if (window.fetch) window.fetch(endpoint, { method: "POST", body: body, keepalive: true,
      credentials: "same-origin", headers: { "Content-Type": "application/json" } }).catch(function () {});
  }

  function flush() { while (queue.length) post(queue.splice(0, MAX_BATCH)); }

  function track(kind, data) {
    var event = { kind: kind };
    for (var key in data || {}) if (data[key] != null) event[key] = data[key];
    queue.push(event);
    if (queue.length >= MAX_BATCH) flush();
  }

  function describe(item) {
    var widget = item.closest("[data-personalize-widget]");
    // The placement ("for_you") when the markup names it, else the widget's name.
    var placement = item.getAttribute("data-placement") || widget.getAttribute("data-placement");
    var data = { product: item.getAttribute("data-product-id"), placement: placement || widget.getAttribute("data-personalize-widget") };
    var version = item.getAttribute("data-model-version") || widget.getAttribute("data-model-version");
    if (version) data.model_version = version;
    var variant = item.getAttribute("data-variant") || widget.getAttribute("data-variant");
    if (variant) data.context = { variant: variant }; // A/B variant of the placement
    return data;
  }

  var observer = window.IntersectionObserver && new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      observer.unobserve(entry.target);
      var data = describe(entry.target), id = data.placement + "|" + data.product;
      if (!seen[id]) { seen[id] = true; track("impression", data); } // once per page
    });
  }, { threshold: 0.5 });

  function scan() {
    var items = observer ? document.querySelectorAll(ITEM) : [];
    for (var i = 0; i < items.length; i++) {
      if (!items[i].personalizeObserved) { items[i].personalizeObserved = true; observer.observe(items[i]); }
    }
  }

  document.addEventListener("click", function (e) {
    var item = e.target.closest && e.target.closest(ITEM);
    // Items whose links carry the signed click parameter are recorded by the server.
    if (item && !item.hasAttribute("data-click-signed")) track("rec_click", describe(item));
  }, true);
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") flush(); });
  window.addEventListener("pagehide", flush);
  window.setInterval(flush, 5000);
  function start() {
    scan();
    if (window.MutationObserver) new MutationObserver(scan).observe(document.body, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();

  api.track = track;
  api.flush = flush;
  api.endpoint = endpoint;
})(window, document);
