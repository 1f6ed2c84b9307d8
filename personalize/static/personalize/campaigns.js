/* django-personalize: countdowns of limited-time offers, the exit-intent pop-up, "get your code" links. */
(function () {
  "use strict";
  if (window.personalizeCampaigns) return;
  window.personalizeCampaigns = true;

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function tick(el) {
    var end = Date.parse(el.getAttribute("data-personalize-countdown"));
    var left = Math.max(0, Math.floor((end - Date.now()) / 1000));
    if (!left) {
      el.textContent = el.getAttribute("data-expired-text") || "";
      return false;
    }
    var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600);
    var m = Math.floor(left % 3600 / 60), s = left % 60;
    el.textContent = (d ? d + "d " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
    return true;
  }

  function countdowns() {
    var els = Array.prototype.slice.call(document.querySelectorAll("[data-personalize-countdown]"));
    if (!els.length) return;
    function all() { els = els.filter(tick); if (els.length) setTimeout(all, 1000); }
    all();
  }

  function seen(el) {
    var url = el.getAttribute("data-seen-url");
    if (!url) return;
    if (navigator.sendBeacon) navigator.sendBeacon(url);
    else fetch(url, { method: "POST", credentials: "same-origin", keepalive: true });
  }

  function exitIntent() {
    var dialog = document.querySelector("[data-personalize-exit-intent]");
    if (!dialog) return;
    var isDialog = dialog.tagName === "DIALOG";
    if (isDialog && typeof dialog.showModal !== "function") return;
    var key = "personalize-exit-" + dialog.getAttribute("data-campaign");
    try { if (sessionStorage.getItem(key)) return; } catch (e) { /* private mode */ }
    function show(event) {
      if (event.clientY > 0 || event.relatedTarget) return;  // only when leaving through the top
      document.removeEventListener("mouseout", show);
      try { sessionStorage.setItem(key, "1"); } catch (e) { /* private mode */ }
      if (isDialog) dialog.showModal();  // the control group's marker opens nothing
      seen(dialog);
    }
    document.addEventListener("mouseout", show);
  }

  // A unique code is issued when asked for: the link posts, the answer replaces it. Without
  // script (or on failure) the link itself is followed and the page shows the code.
  function reveals() {
    document.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("[data-personalize-reveal]");
      if (!link || !window.fetch) return;
      event.preventDefault();
      fetch(link.href, { method: "POST", credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (data) {
          var code = document.createElement("strong");
          code.className = "personalize-campaign-code-value";
          code.textContent = data.code;
          document.querySelectorAll("[data-personalize-reveal]").forEach(function (other) {
            if (other.href === link.href) other.replaceWith(code.cloneNode(true));
          });
        })
        .catch(function () { window.location.href = link.href; });
    });
  }

  function start() { countdowns(); exitIntent(); reveals(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
