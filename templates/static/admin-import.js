// The newsroom's CSV import: a progress bar for the upload (htmx's htmx:xhr:progress events),
// then "importing" while the server reads the file; a file over the limit is refused here,
// before a byte is sent. Without this file (or without JavaScript) the form posts as usual.
(function () {
  "use strict";

  // The form that made the request (htmx:beforeSwap is fired on the swap's target instead).
  function importForm(event) {
    var config = event.detail && event.detail.requestConfig;
    var target = config && config.elt ? config.elt : event.target;
    return target && target.closest ? target.closest("form[data-import]") : null;
  }

  function parts(form) {
    return {
      box: form.querySelector(".import-progress"),
      bar: form.querySelector("progress"),
      stage: form.querySelector("#import-stage"),
      file: form.querySelector("input[type=file]"),
      button: form.querySelector("button[type=submit]"),
      result: document.getElementById("import-result")
    };
  }

  function say(form, text) {
    var p = parts(form);
    p.result.textContent = "";
    var message = document.createElement("p");
    message.className = "field-error";
    message.setAttribute("role", "alert");
    message.textContent = text;
    p.result.appendChild(message);
    p.file.setAttribute("aria-invalid", "true");
  }

  function finish(form) {
    var p = parts(form);
    p.box.hidden = true;
    p.button.disabled = false;
    form.removeAttribute("data-stage");
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = importForm(event);
    if (!form) { return; }
    var p = parts(form);
    var chosen = p.file.files && p.file.files[0];
    var max = Number(form.getAttribute("data-max"));
    if (chosen && max && chosen.size > max) {
      event.preventDefault();
      var mb = (chosen.size / 1048576).toLocaleString(undefined, {maximumFractionDigits: 1});
      say(form, chosen.name + " is " + mb + " MB; the largest import is " +
        form.getAttribute("data-max-text") + ". Nothing was sent: split the file and import each part.");
      return;
    }
    p.file.removeAttribute("aria-invalid");
    p.bar.max = 100;
    p.bar.value = 0;
    p.stage.textContent = "Uploading…";
    p.box.hidden = false;
    p.button.disabled = true;
    form.setAttribute("data-stage", "upload");
  });

  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = importForm(event);
    // The upload's events come first; once it is all sent, the answer's own are not ours.
    if (!form || form.getAttribute("data-stage") !== "upload" || !event.detail.lengthComputable) { return; }
    var p = parts(form);
    p.bar.max = event.detail.total;
    p.bar.value = event.detail.loaded;
    if (event.detail.loaded >= event.detail.total) {
      form.setAttribute("data-stage", "import");
      p.bar.removeAttribute("value");  // indeterminate: the server is importing
      p.stage.textContent = "Importing…";
    }
  });

  // A refused import (400: bad rows; 413: too large) is an answer to show, not an error to drop.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var form = importForm(event);
    if (!form) { return; }
    var status = event.detail.xhr.status;
    if (status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (status === 413) {
      event.detail.shouldSwap = false;
      say(form, "The file is larger than the largest import; nothing was imported.");
    } else if (status >= 400) {
      event.detail.shouldSwap = false;
      say(form, "The import failed (" + status + "); nothing was imported. Reload the page and try again.");
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    var form = importForm(event);
    if (form) { finish(form); }
  });
}());
