// Re-reports of one accident (issue 12): the server proposes the open reports that share a
// plate or phone with this case or were made nearby (GET /api/cases/{id}/link-candidates,
// kuaichu.casework.relink); each shows as a notice with one button, and a confirmation
// before the merge (POST /api/cases/{id}/link moves its calls, stills and parties here).
import { $, apiErrorText, apiFetch, el, fmt } from "../common.js";

// Where linking is still possible (kuaichu.casework.closing: before any determination).
const LINKABLE = ["reported", "queued", "in_call", "evidence_collected", "scene_cleared"];

function candidateItem(panel, caseId, c) {
  const t = panel.t;
  const li = el("li", "cp-relink-item");
  li.dataset.caseId = c.case_id;
  const why = c.reasons.map((r) => t["cp_relink_" + r] || r).join(" · ");
  li.append(el("span", "cp-relink-text", fmt(t.cp_relink_text, { id: c.case_id, why })), " ");
  const button = el("button", "cp-relink-button", t.cp_relink_button);
  button.type = "button";
  button.addEventListener("click", async () => {
    const answer = await panel.ask({
      title: fmt(t.cp_relink_confirm, { id: c.case_id }),
      text: t.cp_relink_confirm_text,
      yes: t.cp_relink_button,
    });
    if (!answer.ok || caseId !== panel.caseId) return;
    button.disabled = true;
    try {
      await apiFetch("POST", `/api/cases/${encodeURIComponent(caseId)}/link`, {
        case_id: c.case_id,
      });
    } catch (err) {
      panel.showError(apiErrorText(t, err));
    }
    await panel.refresh({ adoptForm: !panel.dirty });
  });
  li.append(button);
  return li;
}

function caseLink(id) {
  const a = el("a", "", id);
  a.href = `/cases/${encodeURIComponent(id)}`;
  return a;
}

// The reports merged into this case, or the case this one was merged into: each a link, so
// the other case's trail and its page stay one click away.
function renderMerged(t, view) {
  const p = $("cp-relink-merged");
  if (!p) return;
  const linked = (view.linked_cases || []).map((c) => c.id);
  p.textContent = "";
  if (view.merged_into) {
    p.append(t.cp_relink_merged_into, " ", caseLink(view.merged_into));
  } else if (linked.length) {
    p.append(t.cp_relink_merged, " ");
    linked.forEach((id, i) => {
      if (i) p.append(", ");
      p.append(caseLink(id));
    });
  }
  p.hidden = !p.childNodes.length;
}

export async function loadLinkCandidates(panel, view) {
  renderMerged(panel.t, view);
  const section = $("cp-relink");
  if (!section) return;
  const caseId = panel.caseId;
  if (!LINKABLE.includes(view.case.status)) {
    section.hidden = true;
    return;
  }
  let found;
  try {
    found = await apiFetch("GET", `/api/cases/${encodeURIComponent(caseId)}/link-candidates`);
  } catch {
    return; // a proposal is advice: the panel works without it
  }
  if (caseId !== panel.caseId) return;
  const shown = [...$("cp-relink-list").children].map((li) => li.dataset.caseId).join();
  if (shown !== found.candidates.map((c) => c.case_id).join()) {
    $("cp-relink-list").replaceChildren(
      ...found.candidates.map((c) => candidateItem(panel, caseId, c)),
    );
  }
  section.hidden = found.candidates.length === 0;
}
