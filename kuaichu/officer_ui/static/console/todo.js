// The officer's to-do list (issue 12, GET /api/todo): revised reviews waiting for a new
// version, agreements to approve, determinations still to issue (and, for a supervisor, the
// review requests). "Open" shows the case in the panel beside the call, so the call stays.
import { $, apiFetch, el, fmt } from "../common.js";
import { showCase } from "./casehost.js";
import { socket, t } from "./page.js";

const REFRESH_MS = 30000;
let loading = null;

function partiesText(parties) {
  return parties
    .map((p) => [p.key, p.name, p.plate].filter(Boolean).join(" "))
    .join(" · ");
}

function render(items) {
  const list = $("todo-list");
  list.textContent = "";
  $("todo-count").textContent = String(items.length);
  $("todo-count").dataset.count = String(items.length);
  $("todo-empty").hidden = items.length > 0;
  for (const item of items) {
    const li = el("li", "todo-item");
    li.dataset.case = item.case_id;
    li.dataset.kind = item.kind;
    li.append(el("b", "todo-kind", t["todo_kind_" + item.kind] || item.kind));
    li.append(el("span", "todo-case", item.case_id));
    li.append(el("span", "todo-parties", partiesText(item.parties || [])));
    const open = el("button", "btn btn-small btn-secondary", t.todo_open);
    open.type = "button";
    open.setAttribute("aria-label", fmt("{what} {case}", { what: t.todo_open, case: item.case_id }));
    open.addEventListener("click", () => showCase(item.case_id));
    li.append(open);
    list.append(li);
  }
}

export async function refreshTodo() {
  if (loading) return loading;
  loading = (async () => {
    try {
      const data = await apiFetch("GET", "/api/todo");
      render(data.items || []);
    } catch (_) {
      /* kept as it was; the next refresh tries again */
    } finally {
      loading = null;
    }
  })();
  return loading;
}

socket.on("connect", refreshTodo);
socket.on("case_status", refreshTodo);
socket.on("officer_state", refreshTodo);
setInterval(() => {
  if (!document.hidden) refreshTodo();
}, REFRESH_MS);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) refreshTodo();
});
