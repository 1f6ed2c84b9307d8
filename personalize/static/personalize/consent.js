/* django-personalize: the consent banner without a page reload.
 * Without JavaScript the form posts and the server redirects back; with it, the choice is posted
 * with fetch, the banner is hidden and a "personalize:consent" event ({detail: {granted}}) is
 * dispatched on document so the page may react. */
(function () {
  "use strict";
  function wire(banner) {
    var form = banner.querySelector("form");
    if (!form || form.getAttribute("data-wired")) return;
    form.setAttribute("data-wired", "1");
    form.addEventListener("submit", function (event) {
      var button = event.submitter || form.querySelector("button[name=choice]");
      if (!window.fetch || !window.FormData || !button) return; // the plain POST still works
      event.preventDefault();
      var data = new FormData(form);
      data.set("choice", button.value);
      fetch(form.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "Accept": "application/json", "X-Requested-With": "fetch" }
      }).then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      }).then(function (body) {
        if (!banner.hasAttribute("data-inline")) banner.hidden = true;
        var status = banner.querySelector("[data-personalize-consent-status]");
        if (status) status.textContent = body.message || "";
        document.dispatchEvent(new CustomEvent("personalize:consent", { detail: { granted: !!body.granted } }));
      }).catch(function () { // fall back to the no-JS path (submit() sends no button value)
        var input = document.createElement("input");
        input.type = "hidden"; input.name = "choice"; input.value = button.value;
        form.appendChild(input);
        form.submit();
      });
    });
  }
  function init() {
    var banners = document.querySelectorAll("[data-personalize-consent]");
    for (var i = 0; i < banners.length; i++) wire(banners[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
