// A story image that cannot be loaded is taken out with its frame, so no empty box stays
// where it would have been (issue 17). Without script the frame stays; nothing else needs it.
(function () {
  "use strict";
  function drop(img) {
    (img.closest(".story-image") || img).remove();
  }
  document.querySelectorAll(".story-image img").forEach(function (img) {
    if (img.complete && img.naturalWidth === 0) {
      drop(img);
    } else {
      img.addEventListener("error", function () { drop(img); });
    }
  });
})();
