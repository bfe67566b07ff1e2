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

  // Drop zone (jobs page): a presigned form from the console (which asks the API), then the file
  // straight to S3 with it. Names and answers are shown as text, never as markup.
  var zone = document.getElementById("drop-zone");
  if (zone) {
    var results = document.getElementById("drop-results");
    var token = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    var show = function (name, text, ok) {
      var item = document.createElement("li");
      item.className = ok ? "ok" : "problem";
      item.textContent = name + ": " + text;
      results.prepend(item);
    };
    var s3Error = function (text) {
      var xml = new DOMParser().parseFromString(text, "application/xml");
      var code = xml.querySelector("Code"), message = xml.querySelector("Message");
      return code ? code.textContent + (message ? " — " + message.textContent : "") : text.slice(0, 200);
    };
    var upload = function (file) {
      var headers = Object.assign({"Content-Type": "application/json"}, token);
      var body = JSON.stringify({fileName: file.name, contentType: file.type || "application/octet-stream"});
      fetch(zone.dataset.form, {method: "POST", headers: headers, body: body, credentials: "same-origin"})
        .then(function (response) {
          return response.json().then(function (form) {
            if (!response.ok) throw new Error(form.message || response.statusText);
            var data = new FormData();
            Object.keys(form.fields).forEach(function (name) { data.append(name, form.fields[name]); });
            data.append("file", file);  // last: S3 ignores fields after the file
            return fetch(form.url, {method: "POST", body: data}).then(function (stored) {
              if (stored.ok) { show(file.name, "uploaded as " + form.key, true); return; }
              return stored.text().then(function (text) { show(file.name, "refused by S3: " + s3Error(text), false); });
            });
          });
        })
        .catch(function (error) { show(file.name, String(error.message || error), false); });
    };
    var uploadAll = function (files) { Array.prototype.forEach.call(files, upload); };
    zone.addEventListener("dragover", function (event) { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("over");
      uploadAll(event.dataTransfer.files);
    });
    document.getElementById("drop-files").addEventListener("change", function (event) {
      uploadAll(event.target.files);
      event.target.value = "";
    });
  }
})();
