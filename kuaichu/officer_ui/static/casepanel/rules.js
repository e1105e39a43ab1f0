// The case rules the panel applies before asking the server. The server owns them
// (kuaichu.cases) and sends them with the page (#cp-rules, built by
// officer_ui._case_form_context), so they are never re-encoded here.
const blob = document.getElementById("cp-rules");
const rules = blob ? JSON.parse(blob.textContent) : {};

// A case id as typed for "link another report" (kuaichu.cases.ids.CASE_ID_RE).
export const CASE_ID = new RegExp(rules.case_id_pattern);
// The parties' keys in order (kuaichu.cases.form.PARTY_KEYS): "add a party" takes the next.
export const PARTY_KEYS = rules.party_keys || [];
// Two parties allow exactly full+none, major+minor, equal+equal (kuaichu.cases.liability).
export const COUNTERPART = rules.counterpart || {};
// A determination issued in these states is a correction and needs a written reason.
export const CORRECTION_STATES = rules.correction_states || [];
// The determination clock runs in these states.
export const ACTIVE_STATES = rules.active_states || [];
// issue 12: the text presets per cause (kuaichu.cases.presets): description, fault, legal basis.
export const PRESETS = rules.presets || {};
// issue 12: the shape of a mobile number and of an ID number typed to their last character
// (kuaichu.cases.form): the cursor then moves on to the next field (form.js).
export const COMPLETE = Object.fromEntries(
  Object.entries(rules.complete || {}).map(([field, pattern]) => [field, new RegExp(pattern)]));
