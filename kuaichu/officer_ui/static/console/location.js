// The driver's position as the officer sees it: on the incoming-call card and, with a map
// link, beside the call.
import { $ } from "../common.js";
import { t } from "./page.js";

export function formatLatLng(loc) {
  return `${Number(loc.lat).toFixed(5)}, ${Number(loc.lng).toFixed(5)}`
    + (loc.accuracy ? ` (±${Math.round(loc.accuracy)} m)` : "");
}

export function renderLocation(loc) {
  const dd = $("call-gps");
  dd.textContent = "";
  if (!loc) {
    dd.textContent = t.gps_none;
    return;
  }
  const text = document.createElement("div");
  text.textContent = formatLatLng(loc);
  const link = document.createElement("a");
  // GPS gives WGS-84; Amap's URI API converts when told so.
  link.href = `https://uri.amap.com/marker?position=${loc.lng},${loc.lat}&coordinate=wgs84`;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  link.textContent = t.map_link;
  dd.append(text, link);
}
