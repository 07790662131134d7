/* scim-authz console: progressive enhancement only; every page works without it. */
(function () {
  "use strict";

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  /* Focus what the server flagged (an error summary, a result, a secret) so it is announced. */
  var flagged = $("[data-autofocus]");
  if (flagged) { flagged.focus(); }

  /* Copy buttons: data-copy="#id" copies that element's text with the Clipboard API. */
  $$("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var source = $(button.getAttribute("data-copy"));
      var status = button.closest(".card") && $(".copy-status", button.closest(".card"));
      function say(text) { if (status) { status.textContent = text; } }
      if (!source) { return; }
      var text = source.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { say("Copied to the clipboard."); },
          function () { say("Could not copy: select the text and copy it by hand."); });
      } else {
        var range = document.createRange();
        range.selectNodeContents(source);
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        say("Selected: press Ctrl+C (or ⌘C) to copy.");
      }
    });
  });

  /* Schema editor: line numbers, error bands that follow scrolling, and jump-to-error links. */
  $$("[data-editor]").forEach(function (editor) {
    var area = $("textarea", editor);
    var gutter = $(".gutter-inner", editor);
    var bands = $(".bands", editor);
    var errorLines = (editor.getAttribute("data-error-lines") || "").split(",").filter(Boolean).map(Number);
    var lineHeight = function () { return parseFloat(getComputedStyle(area).lineHeight) || 20; };
    var padTop = function () { return parseFloat(getComputedStyle(area).paddingTop) || 0; };

    function renderGutter() {
      var count = area.value.split("\n").length;
      var html = [];
      for (var n = 1; n <= count; n++) {
        html.push(errorLines.indexOf(n) >= 0 ? '<span class="err">' + n + "</span>" : "<span>" + n + "</span>");
      }
      gutter.innerHTML = html.join("");
    }
    function renderBands() {
      bands.innerHTML = "";
      errorLines.forEach(function (line) {
        var band = document.createElement("div");
        band.className = "band";
        band.style.top = (padTop() + (line - 1) * lineHeight() - area.scrollTop) + "px";
        bands.appendChild(band);
      });
    }
    function sync() {
      gutter.style.transform = "translateY(" + (-area.scrollTop) + "px)";
      renderBands();
    }
    area.addEventListener("scroll", sync);
    area.addEventListener("input", function () {
      errorLines = [];  /* positions may have moved: validate again to see them */
      renderGutter();
      sync();
    });
    renderGutter();
    sync();

    $$("[data-goto-line]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var line = Number(link.getAttribute("data-goto-line"));
        var column = Number(link.getAttribute("data-goto-column")) || 1;
        var lines = area.value.split("\n");
        var offset = 0;
        for (var i = 0; i < line - 1 && i < lines.length; i++) { offset += lines[i].length + 1; }
        offset += Math.min(column - 1, (lines[line - 1] || "").length);
        area.focus();
        area.setSelectionRange(offset, offset);
        area.scrollTop = Math.max(0, (line - 3) * lineHeight());
        sync();
      });
    });
  });

  /* A search box that narrows a <select> as you type (the server search still works without it). */
  $$("[data-filter-select]").forEach(function (input) {
    var select = $(input.getAttribute("data-filter-select"));
    if (!select) { return; }
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      $$("option", select).forEach(function (option) {
        option.hidden = needle !== "" && option.textContent.toLowerCase().indexOf(needle) < 0 && !option.selected;
      });
    });
  });

  /* User picker: suggestions from /admin/users/search.json into the input's <datalist>. */
  $$("[data-user-search]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    var last = null;
    function load() {
      var q = input.value.trim();
      if (q === last) { return; }
      last = q;
      fetch(input.getAttribute("data-user-search") + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : []; })
        .then(function (users) {
          list.innerHTML = "";
          users.forEach(function (u) {
            var option = document.createElement("option");
            option.value = u.userName;
            option.label = (u.displayName || "") + (u.active ? "" : " (deactivated)");
            list.appendChild(option);
          });
        })
        .catch(function () { /* suggestions are a convenience; typing a userName still works */ });
    }
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(load, 150); });
    input.addEventListener("focus", load);
  });
})();
