/* django-personalize: search suggestions while the shopper types (an ARIA 1.2 combobox).
 *
 *   <input type="search" name="q" data-personalize-suggest="/personalize/api/search-suggestions/">
 *   <script src="{% static 'personalize/suggest.js' %}" defer></script>
 *
 * Debounced (data-debounce, ms, default 150): one request per pause in typing, older answers
 * are dropped. Keyboard: Down/Up move through the list, Enter picks (and submits the form),
 * Escape closes, Tab leaves. Suggestions are inserted as text, never as HTML.
 */
(function () {
  "use strict";
  var counter = 0;

  function setup(input) {
    if (input.getAttribute("data-personalize-suggest-ready")) return;
    input.setAttribute("data-personalize-suggest-ready", "1");
    var endpoint = input.getAttribute("data-personalize-suggest");
    var delay = parseInt(input.getAttribute("data-debounce") || "150", 10);
    var limit = parseInt(input.getAttribute("data-limit") || "6", 10);
    var id = "personalize-suggest-" + (++counter);
    var list = document.createElement("ul");
    list.id = id;
    list.className = "personalize-suggest";
    list.setAttribute("role", "listbox");
    list.setAttribute("data-personalize-widget", "search_suggestions_live");
    list.hidden = true;
    input.insertAdjacentElement("afterend", list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", id);
    input.setAttribute("autocomplete", "off");
    var timer = null, seq = 0, active = -1, items = [];

    function close() {
      list.hidden = true;
      list.textContent = "";
      items = [];
      active = -1;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(index) {
      active = index;
      items.forEach(function (li, i) {
        li.setAttribute("aria-selected", i === index ? "true" : "false");
        li.classList.toggle("is-active", i === index);
      });
      if (index >= 0) input.setAttribute("aria-activedescendant", items[index].id);
      else input.removeAttribute("aria-activedescendant");
    }

    function pick(text) {
      input.value = text;
      close();
      if (input.form) {
        if (typeof input.form.requestSubmit === "function") input.form.requestSubmit();
        else input.form.submit();
      }
    }

    function show(suggestions) {
      list.textContent = "";
      items = suggestions.map(function (text, i) {
        var li = document.createElement("li");
        li.id = id + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.textContent = text;
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(text); });
        list.appendChild(li);
        return li;
      });
      active = -1;
      var open = items.length > 0;
      list.hidden = !open;
      input.setAttribute("aria-expanded", open ? "true" : "false");
    }

    function fetchNow() {
      var prefix = input.value.trim();
      if (!prefix) { close(); return; }
      var mine = ++seq;
      var url = endpoint + (endpoint.indexOf("?") >= 0 ? "&" : "?") +
        "prefix=" + encodeURIComponent(prefix.slice(0, 100)) + "&limit=" + limit;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
        .then(function (data) { if (mine === seq) show(data.suggestions || []); })
        .catch(function () { if (mine === seq) close(); });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchNow, delay);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" && items.length) {
        e.preventDefault();
        highlight((active + 1) % items.length);
      } else if (e.key === "ArrowUp" && items.length) {
        e.preventDefault();
        highlight(active <= 0 ? items.length - 1 : active - 1);
      } else if (e.key === "Enter" && active >= 0) {
        e.preventDefault();
        pick(items[active].textContent);
      } else if (e.key === "Escape") {
        close();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
  }

  function init() {
    var inputs = document.querySelectorAll("input[data-personalize-suggest]");
    for (var i = 0; i < inputs.length; i++) setup(inputs[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
