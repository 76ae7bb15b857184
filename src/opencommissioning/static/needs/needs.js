// Needs pages: a select that submits its form on change (the funnel's indicator switch,
// the organisation shown over time).
(function () {
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-submit-on-change]")) event.target.form.requestSubmit();
  });
})();
