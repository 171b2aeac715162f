// 日程总览: drag a meeting onto an empty seat to move it, onto another meeting to swap them.
// Seats where the drop would put one organization in two meetings of the same round are shaded
// while dragging and refuse the drop; everything else is checked again by the server (free
// rounds, 「不见」, caps), which answers with the reason. Without JavaScript the forms below
// the grid do the same.
(function () {
  "use strict";
  const table = document.querySelector("table.schedule[data-editable]");
  const form = document.getElementById("dnd-form");
  if (!table || !form) return;
  const base = table.dataset.base;
  const cells = Array.from(table.querySelectorAll("td[data-slot]"));
  const meetings = cells.filter((c) => c.dataset.meeting);
  const people = (c) => (c.dataset.people || "").split(" ").filter(Boolean);
  let dragged = null;

  function clash(slot, who, except) {
    return meetings.some(
      (o) => o.dataset.slot === slot && !except.includes(o) && people(o).some((p) => who.includes(p))
    );
  }

  function conflict(target) {
    if (target === dragged) return true;
    const mine = people(dragged);
    if (!target.dataset.meeting) return clash(target.dataset.slot, mine, [dragged]);
    return (
      clash(target.dataset.slot, mine, [dragged, target]) ||
      clash(dragged.dataset.slot, people(target), [dragged, target])
    );
  }

  function clear() {
    cells.forEach((c) => c.classList.remove("dragging", "drop-conflict", "drop-target"));
    dragged = null;
  }

  table.addEventListener("dragstart", (e) => {
    const td = e.target.closest("td[data-meeting]");
    if (!td) return;
    dragged = td;
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", td.dataset.meeting);
    td.classList.add("dragging");
    cells.forEach((c) => {
      if (c !== td && conflict(c)) c.classList.add("drop-conflict");
    });
  });

  table.addEventListener("dragover", (e) => {
    const td = e.target.closest("td[data-slot]");
    if (!dragged || !td || td.classList.contains("drop-conflict") || td === dragged) return;
    e.preventDefault();
    cells.forEach((c) => c.classList.toggle("drop-target", c === td));
  });

  table.addEventListener("drop", (e) => {
    const td = e.target.closest("td[data-slot]");
    if (!dragged || !td || td.classList.contains("drop-conflict") || td === dragged) return;
    e.preventDefault();
    const swap = Boolean(td.dataset.meeting);
    form.action = base + dragged.dataset.meeting + (swap ? "/swap" : "/move");
    form.elements.slot.disabled = swap;
    form.elements.table_id.disabled = swap;
    form.elements.other_id.disabled = !swap;
    form.elements.slot.value = td.dataset.slot;
    form.elements.table_id.value = td.dataset.table;
    form.elements.other_id.value = td.dataset.meeting || "";
    clear();
    form.submit();
  });

  table.addEventListener("dragend", clear);
})();
