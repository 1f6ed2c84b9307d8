/* The segment change form (personalize.admin.rule_forms): show the chosen rule type's fields,
   catalogue pickers (Django admin's select2, searching through the store's adapter) and a live
   "who matches" preview that follows the unsaved rules. Plain JavaScript plus the admin's
   django.jQuery for select2; without JavaScript the form still works (fields after a save). */
"use strict";
(function () {
  var $ = window.django && window.django.jQuery;

  function kindOf(row) {
    var select = row.querySelector("select.personalize-rule-kind");
    return select ? select.value : "";
  }

  function showChosen(row) {
    var kind = kindOf(row);
    row.querySelectorAll("fieldset.personalize-rule-fields").forEach(function (fieldset) {
      fieldset.hidden = fieldset.getAttribute("data-rule-kind") !== kind;
    });
  }

  function facetOf(picker) {
    var from = picker.getAttribute("data-facet-from");
    if (!from) return picker.getAttribute("data-facet");
    var fieldset = picker.closest("fieldset");
    var source = fieldset && fieldset.querySelector('[data-param="' + from + '"]');
    return source ? source.value : "";
  }

  function initPicker(picker) {
    if (!$ || !$.fn.select2 || picker.name.indexOf("__prefix__") !== -1 || picker.classList.contains("select2-hidden-accessible")) return;
    $(picker).select2({
      width: "24em",
      ajax: {
        url: picker.getAttribute("data-url"),
        dataType: "json",
        delay: 250,
        data: function (params) {
          return { term: params.term || "", page: params.page || 1, facet: facetOf(picker) };
        }
      }
    });
  }

  function initRow(row) {
    showChosen(row);
    row.querySelectorAll("select.personalize-picker").forEach(initPicker);
  }

  // --- live preview ----------------------------------------------------------------------
  var timer = null;
  var inflight = null;

  function refreshPreview() {
    var box = document.getElementById("segment-preview");
    var body = document.getElementById("segment-preview-body");
    var form = box && box.closest("form");
    if (!box || !body || !form) return;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    box.setAttribute("aria-busy", "true");
    fetch(box.getAttribute("data-preview-url"), {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "X-Requested-With": "XMLHttpRequest" },
      signal: inflight.signal
    })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (data && typeof data.html === "string") body.innerHTML = data.html;
        box.removeAttribute("aria-busy");
        box.setAttribute("data-preview-updated", String(Date.now()));
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") return;
        box.removeAttribute("aria-busy");
      });
  }

  function schedulePreview() {
    clearTimeout(timer);
    timer = setTimeout(refreshPreview, 400);
  }

  function onChange(event) {
    var target = event.target;
    var row = target.closest && target.closest(".inline-related");
    if (row && target.classList.contains("personalize-rule-kind")) showChosen(row);
    if (target.getAttribute && target.getAttribute("data-param")) {
      // A new "what" (product / category / brand) makes the picked key meaningless.
      var fieldset = target.closest("fieldset");
      var name = target.getAttribute("data-param");
      fieldset && fieldset.querySelectorAll('select.personalize-picker[data-facet-from="' + name + '"]').forEach(function (picker) {
        if ($) $(picker).val(null).trigger("change"); else picker.value = "";
      });
    }
    if (target.closest && target.closest("#segment-preview")) return;
    schedulePreview();
  }

  function start() {
    var form = document.getElementById("segment-preview") && document.getElementById("segment-preview").closest("form");
    document.querySelectorAll(".inline-related").forEach(initRow);
    if (!form) return;
    if ($) {
      $(form).on("change input", onChange); // jQuery sees select2's changes and native ones
    } else {
      form.addEventListener("change", onChange);
      form.addEventListener("input", onChange);
    }
    document.addEventListener("formset:added", function (event) {
      initRow(event.target);
      // A new rule goes after the others (the position box still lets the marketer reorder).
      var position = event.target.querySelector('input[name$="-position"]');
      var rows = document.querySelectorAll('#rules-group .inline-related:not(.empty-form) input[name$="-position"]');
      var highest = -1;
      rows.forEach(function (input) { if (input !== position) highest = Math.max(highest, parseInt(input.value, 10) || 0); });
      if (position && (position.value === "" || position.value === "0")) position.value = String(highest + 1);
    });
    document.addEventListener("formset:removed", schedulePreview);
    // A form sent back with errors has rules but no count yet: count them now.
    var chosen = Array.prototype.some.call(document.querySelectorAll("select.personalize-rule-kind"), function (select) {
      return select.value && select.name.indexOf("__prefix__") === -1;
    });
    if (chosen && !document.querySelector("#segment-preview-body [data-segment-count]")) schedulePreview();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
