// Starts Swagger UI on the API docs page (/api/docs). Kept in a file because the CSP forbids inline scripts.
(function () {
  "use strict";

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }

  function start() {
    var root = document.getElementById("swagger-ui");
    if (!root || typeof window.SwaggerUIBundle !== "function") {
      return;
    }
    window.SwaggerUIBundle({
      url: root.dataset.specUrl,
      domNode: root,
      deepLinking: true,
      persistAuthorization: false,
      // "Try it out" from a signed-in browser: unsafe requests need the CSRF header; bearer requests ignore it.
      requestInterceptor: function (request) {
        var token = cookie("spyglass_csrf");
        if (token) {
          request.headers["x-csrf-token"] = token;
        }
        return request;
      },
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
