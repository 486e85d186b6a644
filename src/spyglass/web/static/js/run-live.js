// Live run page: follows the run's server-sent events and updates progress, stage and status.
(function () {
  "use strict";
  const panel = document.getElementById("run-live");
  if (!panel || !window.EventSource) return;
  const field = (name) => panel.querySelector('[data-run-field="' + name + '"]');
  const terminal = new Set(["succeeded", "failed", "cancelled"]);
  const source = new EventSource(panel.dataset.eventsUrl);

  function apply(event) {
    const data = JSON.parse(event.data);
    if (data.status) field("status").textContent = data.status;
    if (typeof data.progress === "number") {
      field("progress").value = data.progress;
      field("progress").textContent = data.progress + "%";
      field("progress-text").textContent = data.progress + "%";
    }
    if (data.stage) field("stage").textContent = data.stage;
    if (data.error) {
      field("error").textContent = data.error;
      field("error").hidden = false;
    }
    if (terminal.has(data.status)) {
      source.close();
      const cancel = document.querySelector('form[action$="/cancel"]');
      if (cancel) cancel.hidden = true;
    }
  }

  source.addEventListener("run", apply);
  source.addEventListener("progress", apply);
})();
