// Starts Swagger UI on /docs. It is a file, not an inline <script>, because the page's
// Content-Security-Policy allows scripts from 'self' only. The page hands over its
// settings as data- attributes of #swagger-ui (see api/docs.py).
"use strict";
(function () {
  var element = document.getElementById("swagger-ui");
  var parameters = JSON.parse(element.dataset.parameters || "{}");
  parameters.url = element.dataset.openapiUrl;
  parameters.dom_id = "#swagger-ui";
  parameters.oauth2RedirectUrl = new URL(
    element.dataset.oauth2RedirectUrl, window.location.href
  ).href;
  parameters.presets = [SwaggerUIBundle.presets.apis];
  window.ui = SwaggerUIBundle(parameters);
})();
