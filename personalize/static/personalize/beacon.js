/* django-personalize beacon. <script src=".../beacon.js" data-endpoint="/personalize/api/events/" defer>
 * Records impressions and clicks of [data-personalize-widget] [data-product-id]; personalize.track(kind, data).
 * Fills every {% personalize_fragment %} placeholder of the page from one request. */
(function (window, document) {
  "use strict";
  var api = window.personalize = window.personalize || {};
  if (api.track) return;
  var script = document.currentScript;
  var endpoint = (script && script.getAttribute("data-endpoint")) || "/personalize/api/events/";
  var MAX_BATCH = 50, ITEM = "[data-personalize-widget] [data-product-id]";
  var FRAGMENT = "[data-personalize-fragment]", PENDING = "data-fragment-pending", FRAGMENT_TIMEOUT = 4000;
  var queue = [], seen = {};

  // --- delivery (issue 12a): every event gets an id and a time; unsent batches wait in
  // localStorage (bounded) and are retried with backoff on network errors, 429 and 5xx until
  // the server acknowledges them; the server stores each id once, so retries never double.
  var STORE = "personalize:unsent", MAX_UNSENT = 500, backoff = 0, retryTimer = null, sending = false;
  function load() { try { return JSON.parse(window.localStorage.getItem(STORE) || "[]"); } catch (e) { return []; } }
  function save(events) {
    try { window.localStorage.setItem(STORE, JSON.stringify(events.slice(-MAX_UNSENT))); } catch (e) { /* private mode, full */ }
  }
  function uid() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    return Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 12) + Math.random().toString(36).slice(2, 12);
  }
  function retryLater() {
    backoff = Math.min(backoff ? backoff * 2 : 2000, 60000);
    if (!retryTimer) retryTimer = window.setTimeout(function () { retryTimer = null; send(); }, backoff);
  }

  function send() {  // the oldest unsent batch, with fetch so the answer is read
    var unsent = load();
    if (sending || !unsent.length || !window.fetch) return;
    var batch = unsent.slice(0, MAX_BATCH), body = JSON.stringify({ events: batch });
    sending = true;
    window.fetch(endpoint, { method: "POST", body: body, keepalive: body.length < 60000, credentials: "same-origin",
      headers: { "Content-Type": "application/json" } }).then(function (response) {
      sending = false;
      if (response.status === 429 || response.status >= 500) return retryLater();
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (answer && answer.resend) return send();  // first contact: now with the cookie
        var sent = {};  // acknowledged, or refused for good (4xx): either way not sent again
        batch.forEach(function (event) { sent[event.id] = true; });
        save(load().filter(function (event) { return !sent[event.id]; }));
        backoff = 0;
        send();
      });
    }).catch(function () { sending = false; retryLater(); });
  }

  function post(events) {  // when the page goes away: fire and forget, the copy stays for retry
    var body = JSON.stringify({ events: events });
    try {
      if (navigator.sendBeacon(endpoint, new Blob([body], { type: "application/json" }))) return;
    } catch (e) { /* no sendBeacon: the next page sends them */ }
  }

  function flush(leaving) {
    if (queue.length) { save(load().concat(queue)); queue = []; }
    if (leaving === true) { var unsent = load(); if (unsent.length) post(unsent.slice(0, MAX_BATCH)); return; }
    send();
  }

  function track(kind, data) {
    var event = { kind: kind, id: uid(), ts: Date.now() };
    for (var key in data || {}) if (data[key] != null) event[key] = data[key];
    queue.push(event);
    if (queue.length >= MAX_BATCH) flush();
  }

  var CLICK_PARAM = (script && script.getAttribute("data-click-param")) || "pzrec";
  function signedToken(item) {
    var link = item.querySelector("a[href]") || item.closest("a[href]");
    try { return link ? new URL(link.href, window.location.href).searchParams.get(CLICK_PARAM) : null; } catch (e) { return null; }
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
    var token = signedToken(item);  // the server's signed placement/variant: only that counts in A/B results
    if (token) data.token = token;
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
      var holder = items[i].closest(FRAGMENT);
      if (holder && holder.hasAttribute(PENDING)) continue;  // the neutral list may be replaced
      if (!items[i].personalizeObserved) { items[i].personalizeObserved = true; observer.observe(items[i]); }
    }
  }

  // --- fragments: the page (maybe from a CDN) holds neutral lists; one GET brings this
  // shopper's own for all of them. Anything but a fast, valid answer keeps the neutral lists.
  function fillFragments() {
    var holders = document.querySelectorAll(FRAGMENT + "[" + PENDING + "]");
    if (!holders.length) return;
    function done() {
      for (var i = 0; i < holders.length; i++) holders[i].removeAttribute(PENDING);
      scan();
    }
    var url = holders[0].getAttribute("data-fragments-url");
    if (!url || !window.fetch) return done();
    var query = [];
    for (var i = 0; i < holders.length; i++) query.push("f=" + encodeURIComponent(holders[i].getAttribute("data-fragment-token")));
    var controller = window.AbortController ? new AbortController() : null;
    var timer = window.setTimeout(function () { if (controller) controller.abort(); done(); }, FRAGMENT_TIMEOUT);
    window.fetch(url + (url.indexOf("?") < 0 ? "?" : "&") + query.join("&"), {
      credentials: "same-origin", headers: { Accept: "application/json" }, signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (answer) {
      window.clearTimeout(timer);
      var html = answer && answer.fragments;
      if (html && html.length === holders.length) {
        for (var i = 0; i < holders.length; i++) {
          if (typeof html[i] === "string" && holders[i].hasAttribute(PENDING)) {
            holders[i].innerHTML = html[i];
            holders[i].setAttribute("data-fragment-filled", "");
          }
        }
      }
      done();
    }).catch(function () { window.clearTimeout(timer); done(); });
  }

  document.addEventListener("click", function (e) {
    var item = e.target.closest && e.target.closest(ITEM);
    // Items whose links carry the signed click parameter are recorded by the server.
    if (item && !item.hasAttribute("data-click-signed")) track("rec_click", describe(item));
  }, true);
  document.addEventListener("visibilitychange", function () { if (document.visibilityState === "hidden") flush(true); });
  window.addEventListener("pagehide", function () { flush(true); });
  window.setInterval(flush, 5000);
  function start() {
    fillFragments();
    scan();
    if (window.MutationObserver) new MutationObserver(scan).observe(document.body, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();

  api.track = track;
  api.flush = flush;
  api.endpoint = endpoint;
})(window, document);
