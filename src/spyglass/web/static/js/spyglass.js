// Spyglass page behaviour. Loaded with `defer` from base.html; no inline scripts (CSP script-src 'self').
//
//   data-confirm="Question?"      on a <form> (checked on submit) or on a button/link (checked on click):
//                                 the action only goes ahead when the person confirms.
//   data-copy-target="#id"        on a button: copies the text (or input value) of that element.
//   .nav-toggle                   the Menu button of the site navigation on narrow screens.
//
// htmx sends the CSRF token from <body hx-headers>; every request it makes therefore passes the
// server's CSRF check. Confirmation on htmx-driven elements uses htmx's own `hx-confirm`.
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function confirmed(element) {
    var question = element.getAttribute("data-confirm");
    return !question || window.confirm(question);
  }

  // Forms: ask once on submit (covers Enter in a field as well as clicking the button).
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement)) return;
      var submitter = event.submitter;
      if (submitter && submitter.hasAttribute("data-confirm")) return; // asked on click already
      if (form.hasAttribute("data-confirm") && !confirmed(form)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true
  );

  // Buttons and links carrying their own question.
  document.addEventListener(
    "click",
    function (event) {
      var target = event.target instanceof Element ? event.target.closest("[data-confirm]") : null;
      if (!target || target instanceof HTMLFormElement) return;
      if (!confirmed(target)) {
        event.preventDefault();
        event.stopImmediatePropagation();
      }
    },
    true
  );

  // Copy to clipboard.
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    // Fallback for plain-http origins other than localhost: a hidden textarea and execCommand.
    return new Promise(function (resolve, reject) {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (err) {
        ok = false;
      }
      document.body.removeChild(area);
      if (ok) resolve();
      else reject(new Error("copy refused"));
    });
  }

  function announce(button, message) {
    var statusId = button.getAttribute("aria-describedby");
    var status = statusId ? document.getElementById(statusId) : null;
    if (!status) {
      status = document.createElement("span");
      status.className = "copy-status";
      status.setAttribute("role", "status");
      status.id = "copy-status-" + Math.random().toString(36).slice(2);
      button.insertAdjacentElement("afterend", status);
      button.setAttribute("aria-describedby", status.id);
    }
    status.textContent = message;
  }

  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-copy-target]") : null;
    if (!button) return;
    event.preventDefault();
    var source = document.querySelector(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = "value" in source && typeof source.value === "string" ? source.value : source.textContent;
    copyText((text || "").trim()).then(
      function () {
        announce(button, "Copied");
      },
      function () {
        announce(button, "Could not copy; select the text and copy it yourself");
      }
    );
  });

  // Site navigation on narrow screens.
  document.addEventListener("click", function (event) {
    var toggle = event.target instanceof Element ? event.target.closest(".nav-toggle") : null;
    if (!toggle) return;
    var nav = toggle.closest(".site-nav");
    if (!nav) return;
    var open = nav.classList.toggle("open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var nav = document.querySelector(".site-nav.open");
    if (!nav) return;
    nav.classList.remove("open");
    var toggle = nav.querySelector(".nav-toggle");
    if (toggle) {
      toggle.setAttribute("aria-expanded", "false");
      toggle.focus();
    }
  });

  // After an htmx swap, move focus to a swapped-in error summary so screen readers hear it.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    var summary = target && target.querySelector ? target.querySelector(".errors-summary") : null;
    if (summary) {
      summary.setAttribute("tabindex", "-1");
      summary.focus();
    }
  });

  // The skip link: focus the main region (some browsers only scroll to it).
  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest(".skip-link") : null;
    if (!link) return;
    var main = document.getElementById("main");
    if (main) {
      event.preventDefault();
      main.focus();
      main.scrollIntoView();
    }
  });
})();
