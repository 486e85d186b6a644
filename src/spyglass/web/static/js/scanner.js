// Live scan page: follows the scan's run over server-sent events, shows progress and counts, and
// reloads the page when the scan ends so its findings appear.
(function () {
  "use strict";
  const panel = document.getElementById("scan-live");
  if (!panel || !panel.dataset.eventsUrl || !window.EventSource) return;
  const field = (name) => panel.querySelector('[data-scan-field="' + name + '"]');
  const terminal = new Set(["succeeded", "failed", "cancelled"]);
  const source = new EventSource(panel.dataset.eventsUrl);
  const counts = /(\d+) pages, (\d+) requests, (\d+) findings/;

  function apply(event) {
    const data = JSON.parse(event.data);
    if (data.status && field("status")) field("status").textContent = data.status;
    if (typeof data.progress === "number" && field("progress")) {
      field("progress").value = data.progress;
      field("progress").textContent = data.progress + "%";
    }
    if (data.stage && field("stage")) {
      field("stage").textContent = data.stage;
      const match = counts.exec(data.stage);
      if (match) {
        field("pages").textContent = match[1];
        field("requests").textContent = match[2];
        field("findings").textContent = match[3];
      }
    }
    if (terminal.has(data.status)) {
      source.close();
      window.setTimeout(() => window.location.reload(), 500);
    }
  }

  source.addEventListener("run", apply);
  source.addEventListener("progress", apply);
})();
