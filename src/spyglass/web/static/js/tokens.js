// Copy buttons on the "new API token" page: <button data-copy-target="input-id">.
(function () {
  "use strict";

  function announce(targetId, message) {
    var status = document.querySelector('[data-copy-status="' + targetId + '"]');
    if (status) {
      status.textContent = message;
    }
  }

  function copy(button) {
    var targetId = button.getAttribute("data-copy-target");
    var input = document.getElementById(targetId);
    if (!input) {
      return;
    }
    input.focus();
    input.select();
    var done = function () { announce(targetId, "Copied to the clipboard."); };
    var failed = function () { announce(targetId, "Could not copy automatically; the token is selected, press Ctrl+C."); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, failed);
    } else {
      try {
        (document.execCommand("copy") ? done : failed)();
      } catch (error) {
        failed();
      }
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (button) {
      copy(button);
    }
  });
})();
