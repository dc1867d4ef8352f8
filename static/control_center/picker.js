// The mitra filter as a search box with chips. The form still submits the original
// <select multiple name="mitra">, which stays usable when scripts are off.
(function () {
  "use strict";
  var SHOWN = 8;

  function enhance(select) {
    var options = Array.prototype.slice.call(select.options);
    var box = document.createElement("div");
    box.className = "picker";
    var chips = document.createElement("div");
    chips.className = "chips";
    var search = document.createElement("input");
    search.type = "search";
    search.placeholder = "Search " + options.length + " mitras";
    search.setAttribute("aria-label", "Search mitras");
    search.setAttribute("autocomplete", "off");
    var list = document.createElement("ul");
    list.className = "choices";
    list.setAttribute("role", "listbox");
    list.hidden = true;
    box.appendChild(chips); box.appendChild(search); box.appendChild(list);
    select.hidden = true;
    select.parentNode.insertBefore(box, select.nextSibling);

    function renderChips() {
      chips.textContent = "";
      options.filter(function (o) { return o.selected; }).forEach(function (option) {
        var chip = document.createElement("button");
        chip.type = "button"; chip.className = "chip";
        chip.textContent = option.text + " ×";
        chip.setAttribute("aria-label", "Remove " + option.text);
        chip.onclick = function () { option.selected = false; renderChips(); search.focus(); };
        chips.appendChild(chip);
      });
      if (!chips.children.length) {
        var all = document.createElement("span");
        all.className = "muted"; all.textContent = "All mitras";
        chips.appendChild(all);
      }
    }

    function choose(option) {
      option.selected = true;
      search.value = "";
      list.hidden = true;
      renderChips();
      search.focus();
    }

    function renderChoices() {
      var words = search.value.trim().toLowerCase();
      list.textContent = "";
      if (!words) { list.hidden = true; return; }
      var found = options.filter(function (o) { return !o.selected && o.text.toLowerCase().indexOf(words) !== -1; });
      found.slice(0, SHOWN).forEach(function (option) {
        var item = document.createElement("li");
        item.setAttribute("role", "option");
        item.textContent = option.text;
        item.onmousedown = function (e) { e.preventDefault(); choose(option); };
        list.appendChild(item);
      });
      if (found.length > SHOWN) {
        var more = document.createElement("li");
        more.className = "muted"; more.textContent = (found.length - SHOWN) + " more: keep typing";
        list.appendChild(more);
      }
      if (!found.length) {
        var none = document.createElement("li");
        none.className = "muted"; none.textContent = "No mitra matches";
        list.appendChild(none);
      }
      list.hidden = false;
    }

    search.addEventListener("input", renderChoices);
    search.addEventListener("keydown", function (e) {
      if (e.key !== "Enter") return;
      e.preventDefault(); // Enter picks the first match instead of submitting half a choice
      var words = search.value.trim().toLowerCase();
      var first = options.filter(function (o) { return !o.selected && o.text.toLowerCase().indexOf(words) !== -1; })[0];
      if (words && first) choose(first);
    });
    search.addEventListener("blur", function () { list.hidden = true; });
    renderChips();
  }

  document.querySelectorAll('form.filters select[multiple][name="mitra"]').forEach(enhance);
})();
