// The phone's position: watched from the permissions step on, shown on the ready and waiting
// screens, and sent to the officer during the call at most every LOCATION_MIN_INTERVAL_MS.
import { $, fmt } from "../common.js";
import { emitAck } from "../rtc.js";
import { state, t } from "./page.js";

const LOCATION_MIN_INTERVAL_MS = 10000;

export function renderLocation() {
  const line = state.position
    ? fmt(t.loc_ok, { accuracy: Math.round(state.position.accuracy || 0) })
    : state.geoWatch === null ? t.loc_denied : t.loc_waiting;
  $("loc-status").textContent = line;
  $("gps-waiting").textContent = state.position
    ? `${t.gps_label}: ${state.position.lat.toFixed(5)}, ${state.position.lng.toFixed(5)}`
    : `${t.gps_label}: ${t.gps_none}`;
}

export function startLocation() {
  if (!navigator.geolocation) {
    state.geoWatch = null;
    renderLocation();
    return;
  }
  state.geoWatch = navigator.geolocation.watchPosition(
    (pos) => {
      state.position = {
        lat: pos.coords.latitude,
        lng: pos.coords.longitude,
        accuracy: pos.coords.accuracy,
      };
      renderLocation();
      sendLocationThrottled();
    },
    () => {
      // Denied or unavailable: the report goes ahead without it and the page says so.
      if (!state.position) {
        navigator.geolocation.clearWatch(state.geoWatch);
        state.geoWatch = null;
        renderLocation();
      }
    },
    { enableHighAccuracy: true, maximumAge: 15000, timeout: 15000 },
  );
  renderLocation();
}

// The call ended: no more updates, nothing more watched.
export function stopLocation() {
  clearTimeout(state.locationTimer);
  if (state.geoWatch !== null && navigator.geolocation) {
    navigator.geolocation.clearWatch(state.geoWatch);
  }
}

function sendLocationThrottled() {
  if (!state.callActive || !state.position || !state.socket) return;
  const wait = state.lastLocationSent + LOCATION_MIN_INTERVAL_MS - Date.now();
  if (wait > 0) {
    if (!state.locationTimer) {
      state.locationTimer = setTimeout(() => {
        state.locationTimer = null;
        sendLocationThrottled();
      }, wait);
    }
    return;
  }
  state.lastLocationSent = Date.now();
  emitAck(state.socket, "location", { ...state.position }).catch(() => {
    // A lost GPS update is not worth interrupting the driver; the next one follows.
  });
}
