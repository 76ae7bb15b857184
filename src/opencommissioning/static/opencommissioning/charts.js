// Render every Vega-Lite chart on the page with vega-embed (our own copy; actions off, so
// nothing is fetched from another host). Each chart's specification is in a JSON script
// element named by the container's data-vega-spec attribute (templates/components/chart.html;
// templates/components/chart_scripts.html loads this file and Vega).
(function () {
  function render(root) {
    root.querySelectorAll("[data-vega-spec]").forEach(function (el) {
      if (el.dataset.rendered) return;
      var source = document.getElementById(el.dataset.vegaSpec);
      if (!source || typeof vegaEmbed === "undefined") return;
      vegaEmbed(el, JSON.parse(source.textContent), { actions: false, renderer: "svg" })
        .then(function () { el.dataset.rendered = "true"; })
        .catch(function (error) { el.textContent = "The chart could not be drawn: " + error; });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { render(document); });
  document.addEventListener("htmx:afterSettle", function (event) { render(event.target); });
})();
