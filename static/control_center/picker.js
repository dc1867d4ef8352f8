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
    search.setAttribute("role", "combobox");
    search.setAttribute("aria-autocomplete", "list");
    search.setAttribute("aria-expanded", "false");
    var list = document.createElement("ul");
    list.className = "choices";
    list.id = "choices-" + select.name;
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Matching mitras");
    list.hidden = true;
    search.setAttribute("aria-controls", list.id);
    var shown = [], active = -1; // the matches listed, and the one the arrow keys are on
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

    function close() {
      list.hidden = true; shown = []; active = -1;
      search.setAttribute("aria-expanded", "false");
      search.removeAttribute("aria-activedescendant");
    }

    function choose(option) {
      option.selected = true;
      search.value = "";
      close();
      renderChips();
      search.focus();
    }

    function highlight(index) {
      var items = list.querySelectorAll("li[role=option]");
      if (!items.length) return;
      active = (index + items.length) % items.length;
      items.forEach(function (item, i) { item.setAttribute("aria-selected", i === active ? "true" : "false"); });
      search.setAttribute("aria-activedescendant", items[active].id);
    }

    function renderChoices() {
      var words = search.value.trim().toLowerCase();
      list.textContent = "";
      if (!words) { list.hidden = true; return; }
      var found = options.filter(function (o) { return !o.selected && o.text.toLowerCase().indexOf(words) !== -1; });
      shown = found.slice(0, SHOWN); active = -1;
      search.removeAttribute("aria-activedescendant");
      shown.forEach(function (option, i) {
        var item = document.createElement("li");
        item.setAttribute("role", "option");
        item.setAttribute("aria-selected", "false");
        item.id = list.id + "-" + i;
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
      search.setAttribute("aria-expanded", "true");
    }

    search.addEventListener("input", renderChoices);
    search.addEventListener("keydown", function (e) {
      if ((e.key === "ArrowDown" || e.key === "ArrowUp") && !list.hidden) {
        e.preventDefault();
        highlight(active + (e.key === "ArrowDown" ? 1 : -1));
        return;
      }
      if (e.key === "Escape" && !list.hidden) { e.preventDefault(); close(); return; }
      if (e.key !== "Enter") return;
      var words = search.value.trim().toLowerCase();
      if (!words) return; // an empty box: Enter submits the filters as usual
      e.preventDefault(); // Enter picks the highlighted (or first) match instead of submitting half a choice
      var pick = shown[active] || options.filter(function (o) { return !o.selected && o.text.toLowerCase().indexOf(words) !== -1; })[0];
      if (pick) choose(pick);
    });
    search.addEventListener("blur", close);
    renderChips();
  }

  document.querySelectorAll('form.filters select[multiple][name="mitra"]').forEach(enhance);
})();
