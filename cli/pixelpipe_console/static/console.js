// Pixel-Pipe console: the little the pages need beyond htmx (no inline scripts: the CSP forbids them).
(function () {
  "use strict";

  // Copy buttons: <button class="copy" data-copy="TEXT">
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) return;
    var text = button.dataset.copy;
    var done = function () { button.textContent = "copied"; setTimeout(function () { button.textContent = "copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      done();
    }
  });

  // Clicking a state of the graph shows what it received and returned in each execution.
  // Panels are matched by comparing data-state values, never by building a selector from a state name.
  document.addEventListener("click", function (event) {
    var state = event.target.closest("#graph g[data-state]");
    if (!state) return;
    var name = state.getAttribute("data-state");
    var panel = document.getElementById("state-panel");
    var found = null;
    document.querySelectorAll("#state-visits .state-io").forEach(function (candidate) {
      if (candidate.dataset.state === name) found = candidate;
    });
    document.querySelectorAll("#graph g[data-state].selected").forEach(function (g) { g.classList.remove("selected"); });
    state.classList.add("selected");
    panel.replaceChildren();
    if (found) {
      panel.appendChild(found.cloneNode(true));
    } else {
      var heading = document.createElement("h3");
      heading.textContent = name;
      var note = document.createElement("p");
      note.className = "muted";
      note.textContent = "No execution of this job entered this state.";
      panel.append(heading, note);
    }
  });
})();
