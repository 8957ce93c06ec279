// shim report: filter and sort the call sites, offline.  #sort=KEY and
// #filter=TEXT in the address set both on load; <main> gets data-ready="yes".
(function () {
  "use strict";
  var root = document.getElementById("sites");
  var filter = document.getElementById("filter");
  var sort = document.getElementById("sort");
  var shown = document.getElementById("shown");
  if (!root || !filter || !sort) { return; }
  var sections = Array.prototype.slice.call(root.querySelectorAll("section.file"));
  var order = 0;
  sections.forEach(function (section) {
    section.setAttribute("data-order", String(order++));
    Array.prototype.forEach.call(section.querySelectorAll("article.site"), function (site) {
      site.setAttribute("data-order", String(order++));
    });
  });

  function num(element, key) {
    var value = parseFloat(element.getAttribute("data-" + key));
    return isNaN(value) ? 0 : value;
  }
  function byKey(key, sectionLevel) {
    return function (a, b) {
      var diff;
      if (key === "name") {
        if (sectionLevel) {
          var x = a.getAttribute("data-name"), y = b.getAttribute("data-name");
          diff = x < y ? -1 : (x > y ? 1 : 0);
        } else {
          diff = num(a, "line") - num(b, "line");
        }
      } else {
        diff = num(b, key) - num(a, key);
      }
      return diff !== 0 ? diff : num(a, "order") - num(b, "order");
    };
  }
  function applySort(key) {
    sections.sort(byKey(key, true));
    sections.forEach(function (section) {
      var sites = Array.prototype.slice.call(section.querySelectorAll("article.site"));
      sites.sort(byKey(key, false));
      sites.forEach(function (site) { section.appendChild(site); });
      root.appendChild(section);
    });
    root.setAttribute("data-sorted", key);
  }
  function applyFilter(text) {
    var words = text.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
    var visible = 0, total = 0;
    sections.forEach(function (section) {
      var any = false;
      Array.prototype.forEach.call(section.querySelectorAll("article.site"), function (site) {
        total += 1;
        var text = site.getAttribute("data-text") || "";
        var match = words.every(function (word) { return text.indexOf(word) >= 0; });
        site.hidden = !match;
        if (match) { any = true; visible += 1; }
      });
      section.hidden = !any;
    });
    if (shown) { shown.textContent = visible + " of " + total + " sites"; }
    root.setAttribute("data-visible", String(visible));
  }

  filter.addEventListener("input", function () { applyFilter(filter.value); });
  sort.addEventListener("change", function () { applySort(sort.value); });
  var wantedSort = /[#&]sort=([a-z]+)/.exec(window.location.hash);
  if (wantedSort && sort.querySelector('option[value="' + wantedSort[1] + '"]')) {
    sort.value = wantedSort[1];
  }
  var wantedFilter = /[#&]filter=([^&]*)/.exec(window.location.hash);
  if (wantedFilter) { filter.value = decodeURIComponent(wantedFilter[1]); }
  applySort(sort.value);
  applyFilter(filter.value);
  root.setAttribute("data-ready", "yes");
}());
