// The newsroom's article form: a word count of the body, and autosave. Everything typed is
// kept in this browser (localStorage) as it is typed, so a closed tab, a reload or a crash
// loses nothing: opening the form again puts back what was not saved, and says so. A save
// (not a preview) clears it. Without this file (or without JavaScript) the form works alike,
// without these two.
(function () {
  "use strict";

  var form = document.getElementById("article-form");
  if (!form) {
    return;
  }
  var key = "newsroom-autosave:" + form.getAttribute("data-autosave");
  var body = document.getElementById("f-body");
  var count = document.getElementById("word-count");
  var note = document.getElementById("autosave-note");
  var state = document.getElementById("autosave-state");
  var timer = null;

  function words(text) {
    var found = text.trim().split(/\s+/);
    return found[0] === "" ? 0 : found.length;
  }

  function showCount() {
    if (body && count) {
      var n = words(body.value);
      count.textContent = n + (n === 1 ? " word" : " words");
    }
  }

  function fields() {
    return Array.prototype.filter.call(form.elements, function (el) {
      return el.name && el.name !== "csrf" && el.name !== "base" && el.type !== "hidden" &&
        el.type !== "submit" && el.type !== "button";
    });
  }

  function values() {
    var kept = {};
    fields().forEach(function (el) {
      kept[el.name] = el.type === "checkbox" ? el.checked : el.value;
    });
    return kept;
  }

  function same(a, b) {
    return Object.keys(a).every(function (name) { return a[name] === b[name]; });
  }

  function keep() {
    try {
      localStorage.setItem(key, JSON.stringify({ values: values(), at: Date.now() }));
      if (state) {
        state.textContent = "Kept in this browser at " + new Date().toLocaleTimeString() + ", not saved yet.";
      }
    } catch (e) {
      if (state) {
        state.textContent = "This browser cannot keep a copy: save often.";
      }
    }
  }

  function restore() {
    var kept = null;
    try {
      kept = JSON.parse(localStorage.getItem(key) || "null");
    } catch (e) {
      kept = null;
    }
    if (!kept || !kept.values || same(kept.values, values())) {
      return;
    }
    fields().forEach(function (el) {
      if (Object.prototype.hasOwnProperty.call(kept.values, el.name)) {
        if (el.type === "checkbox") {
          el.checked = kept.values[el.name];
        } else {
          el.value = kept.values[el.name];
        }
      }
    });
    if (note) {
      note.textContent = "Put back what you typed at " + new Date(kept.at).toLocaleString() +
        " and had not saved. Save it to keep it, or ";
      var discard = document.createElement("button");
      discard.type = "button";
      discard.className = "link";
      discard.id = "autosave-discard";
      discard.textContent = "discard it";
      discard.addEventListener("click", function () {
        localStorage.removeItem(key);
        window.location.reload();
      });
      note.appendChild(discard);
      note.appendChild(document.createTextNode("."));
      note.hidden = false;
    }
  }

  restore();
  showCount();
  form.addEventListener("input", function (event) {
    if (event.target === body) {
      showCount();
    }
    window.clearTimeout(timer);
    timer = window.setTimeout(function () {
      timer = null;
      keep();
    }, 300);
  });
  form.addEventListener("change", keep);
  var leaving = false;
  form.addEventListener("submit", function (event) {
    if (!event.submitter || event.submitter.id !== "preview-page") {
      window.clearTimeout(timer);
      timer = null;
      leaving = true;
      localStorage.removeItem(key);
    }
  });
  // A tab closed or reloaded within the pause after the last key press: keep that too.
  window.addEventListener("pagehide", function () {
    if (timer !== null && !leaving) {
      window.clearTimeout(timer);
      keep();
    }
  });
})();
