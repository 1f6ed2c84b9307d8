/* Campaign admin: head each new content form with its variant and language ("A · Nederlands")
   instead of Django's "#2", and follow the marketer's choice as they change it. Saved forms keep
   their own heading (the content's __str__). */
(function () {
  "use strict";

  function label(form) {
    var language = form.querySelector('select[name$="-language"]');
    var variant = form.querySelector('input[name$="-variant"]');
    var target = form.querySelector(".inline_label");
    if (!language || !target || form.classList.contains("has_original") || form.classList.contains("empty-form")) {
      return;
    }
    var option = language.options[language.selectedIndex];
    var name = option ? option.text : language.value;
    target.textContent = (variant && variant.value ? variant.value + " · " : "") + name;
  }

  function watch(form) {
    label(form);
    form.addEventListener("change", function () { label(form); });
    form.addEventListener("input", function () { label(form); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll('[data-inline-type="stacked"] .inline-related').forEach(watch);
  });
  document.addEventListener("formset:added", function (event) {
    if (event.target && event.target.classList) { watch(event.target); }
  });
})();
