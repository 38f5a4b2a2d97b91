// The recovery codes' "Copy the codes" button (templates/admin/recovery.html): hidden without
// script; the download link works without it. No inline script: the admin's CSP allows none.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var said = document.getElementById(button.getAttribute("data-said"));
    if (!source) {
      return;
    }
    var text = Array.prototype.map.call(source.querySelectorAll("code"), function (code) {
      return code.textContent.trim();
    }).join("\n") + "\n";
    function done(message) {
      if (said) {
        said.textContent = message;
      }
    }
    function selectThem() {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      done("Selected: copy them with your keyboard or menu.");
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () {
          done("Copied: paste them somewhere safe.");
        }, selectThem);
      } else {
        selectThem();
      }
    });
  });
})();
