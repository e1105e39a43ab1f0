// WebRTC and signaling helpers shared by the driver page and the console.
// The server always makes the offer and does not trickle ICE, so clients answer with a
// complete SDP: every candidate is gathered before the answer is sent.

// TURN credentials from /api/config last `ttl` seconds: they are reused for later offers
// and fetched again once within `refresh_margin` of their end, timed by this page's own
// clock (a phone's may be off the server's). Without TURN every offer asks afresh.
let iceCache = null; // {servers, refreshAt, expiresAt} in Date.now() milliseconds

export async function fetchIceServers() {
  const now = Date.now();
  if (iceCache && now < iceCache.refreshAt) return iceCache.servers;
  const stillValid = () => (iceCache && now < iceCache.expiresAt ? iceCache.servers : []);
  try {
    const res = await fetch("/api/config", { cache: "no-store" });
    if (!res.ok) return stillValid();
    const body = await res.json();
    const servers = Array.isArray(body.ice_servers) ? body.ice_servers : [];
    const ttl = Number(body.ttl) || 0;
    iceCache = ttl > 0
      ? { servers, refreshAt: now + (ttl - (Number(body.refresh_margin) || 0)) * 1000,
          expiresAt: now + ttl * 1000 }
      : null;
    return servers;
  } catch (_) {
    return stillValid();
  }
}

export function waitForIceGathering(pc, timeoutMs = 5000) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      pc.removeEventListener("icegatheringstatechange", onState);
      pc.removeEventListener("icecandidate", onCandidate);
      clearTimeout(timer);
      resolve();
    };
    const onState = () => { if (pc.iceGatheringState === "complete") done(); };
    const onCandidate = (ev) => { if (!ev.candidate) done(); };
    // A stuck STUN/TURN server must not hold the call: answer with what we have.
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener("icegatheringstatechange", onState);
    pc.addEventListener("icecandidate", onCandidate);
  });
}

// Put our tracks on the transceivers the server's offer created. A kind with a track becomes
// sendrecv; a kind we may start sending later (camera off for now) is sendrecv with no track,
// so RTCRtpSender.replaceTrack can turn it on without renegotiation.
export async function attachLocalTracks(pc, tracks) {
  const senders = {};
  const pending = [];
  for (const tr of pc.getTransceivers()) {
    const kind = tr.receiver.track && tr.receiver.track.kind;
    if (!kind) continue;
    const track = tracks[kind];
    if (senders[kind] || track === undefined || track === false) {
      tr.direction = "recvonly";
      continue;
    }
    tr.direction = "sendrecv";
    if (track) pending.push(tr.sender.replaceTrack(track));
    senders[kind] = tr.sender;
  }
  await Promise.all(pending);
  return senders;
}

// offer: {type: "offer", sdp}; tracks: {audio: track|null|false, video: track|null|false}
// (null: may send later; false: never). Returns {senders, answer}.
export async function answerServerOffer(pc, offer, tracks) {
  await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
  const senders = await attachLocalTracks(pc, tracks);
  const answer = await pc.createAnswer();
  await pc.setLocalDescription(answer);
  await waitForIceGathering(pc);
  return { senders, answer: { type: "answer", sdp: pc.localDescription.sdp } };
}

// Every client->server event is acknowledged with {ok: true, ...} or {ok: false, error}.
export function emitAck(socket, event, payload, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    socket.timeout(timeoutMs).emit(event, payload, (err, ack) => {
      if (err) reject({ code: "timeout", message: String(err) });
      else if (!ack || ack.ok !== true) reject((ack && ack.error) || { code: "invalid_message" });
      else resolve(ack);
    });
  });
}

// How long a connection may stay "disconnected" before we ask for a new one: Chromium goes
// disconnected after ~2.5 s without packets and often comes back by itself from a short gap.
export const DISCONNECTED_GRACE_MS = 3000;

// A peer connection for the server's offer: remote tracks play in audioEl and videoEl;
// onFailed(pc, reason) once, when the connection fails ("failed") or stays disconnected for
// DISCONNECTED_GRACE_MS ("disconnected"). The caller checks it is still its current one and
// asks the server for a fresh leg: the server cannot restart ICE, it offers a new connection.
export function openPeer(iceServers, audioEl, videoEl, onFailed) {
  const pc = new RTCPeerConnection({ iceServers });
  pc.addEventListener("track", (ev) => routeRemoteTrack(ev, audioEl, videoEl));
  let timer = null;
  let reported = false;
  const report = (reason) => {
    clearTimeout(timer);
    if (reported || pc.connectionState === "closed") return;
    reported = true;
    onFailed(pc, reason);
  };
  pc.addEventListener("connectionstatechange", () => {
    const st = pc.connectionState;
    if (st === "failed") {
      report("failed");
    } else if (st === "disconnected") {
      if (!timer) {
        timer = setTimeout(() => {
          timer = null;
          if (pc.connectionState === "disconnected") report("disconnected");
        }, DISCONNECTED_GRACE_MS);
      }
    } else {
      clearTimeout(timer);
      timer = null;
    }
  });
  return pc;
}

// Route remote tracks to elements: audio to an <audio>, video to a <video>.
export function routeRemoteTrack(event, audioEl, videoEl) {
  const track = event.track;
  const el = track.kind === "audio" ? audioEl : videoEl;
  if (!el) return;
  el.srcObject = new MediaStream([track]);
  const p = el.play();
  if (p && p.catch) p.catch(() => {});
}
