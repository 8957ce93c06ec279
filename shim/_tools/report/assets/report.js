(function () {
  "use strict";
  var table = document.getElementById("sites");
  if (!table || !table.tHead || !table.tBodies.length) { return; }
  var heads = table.tHead.rows[0].cells;
  var body = table.tBodies[0];
  function key(row, index, numeric) {
    var cell = row.cells[index];
    var value = cell.getAttribute("data-v");
    if (value === null) { value = cell.textContent; }
    return numeric ? parseFloat(value) : value.toLowerCase();
  }
  function sortBy(index, descending) {
    var numeric = heads[index].getAttribute("data-type") === "num";
    var rows = Array.prototype.slice.call(body.rows);
    var sign = descending ? -1 : 1;
    rows.sort(function (a, b) {
      var x = key(a, index, numeric), y = key(b, index, numeric);
      var order = x < y ? -1 : (x > y ? 1 : 0);
      if (order === 0) {
        return Number(a.getAttribute("data-rank")) - Number(b.getAttribute("data-rank"));
      }
      return sign * order;
    });
    for (var i = 0; i < rows.length; i++) { body.appendChild(rows[i]); }
    for (var j = 0; j < heads.length; j++) { heads[j].removeAttribute("aria-sort"); }
    heads[index].setAttribute("aria-sort", descending ? "descending" : "ascending");
    table.setAttribute("data-sorted", heads[index].getAttribute("data-key") + ":" +
      (descending ? "desc" : "asc"));
  }
  function find(name) {
    for (var i = 0; i < heads.length; i++) {
      if (heads[i].getAttribute("data-key") === name) { return i; }
    }
    return -1;
  }
  Array.prototype.forEach.call(heads, function (head, index) {
    var button = head.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var descending = head.getAttribute("aria-sort") === "ascending" ||
        (head.getAttribute("aria-sort") === null && head.getAttribute("data-type") === "num");
      sortBy(index, descending);
    });
  });
  var wanted = /^#sort=([a-z_]+)(?::(asc|desc))?$/.exec(window.location.hash);
  if (wanted && find(wanted[1]) >= 0) { sortBy(find(wanted[1]), wanted[2] === "desc"); }
  table.setAttribute("data-sortable", "ready");
}());
