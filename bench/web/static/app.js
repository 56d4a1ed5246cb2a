// quorumlab web view: draws the frames `bench web` sends and turns clicks and drags into requests.
// Every panel keeps a time-ordered list of items (events, timer changes, status changes) and
// of message flights, and is drawn at one instant T: live panels follow the server's clock one
// frame behind (so nothing is drawn before it happened), replays follow the slider.
"use strict";

const TICK_MS = 50;            // the server's frame interval
const LINGER_WALL_MS = 300;    // how long a lost, dropped or cut message stays visible (wall time)
const PULSE_WALL_MS = 350;     // how long a leader's send pulse lasts (wall time)
const CHECKPOINT_EVERY = 2000; // replay: a copy of the state every this many items, for seeking back
const SVG = "http://www.w3.org/2000/svg";
const $ = (sel, root = document) => root.querySelector(sel);

const app = {
  ws: null, catalog: null, source: "", panels: [], typeColors: new Map(),
  speed: 1, playing: true, reachedSpeed: 1,
  anim: { from: 0, to: 0, start: 0 },
  replay: { t0: 0, t1: 0, t: 0, playing: false, last: 0 },
  perf: { frames: 0, since: performance.now(), fps: 0, lags: [] },
};

// -- connection ----------------------------------------------------------------------------

function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  app.ws = ws;
  ws.onopen = () => { $("#connection").textContent = "connected"; send({ op: "catalog" }); };
  ws.onclose = () => { $("#connection").textContent = "disconnected: retrying…"; setTimeout(connect, 1000); };
  ws.onmessage = (ev) => receive(JSON.parse(ev.data));
}

function send(request) {
  if (app.ws && app.ws.readyState === WebSocket.OPEN) app.ws.send(JSON.stringify(request));
}

function receive(msg) {
  if (msg.type === "catalog") showCatalog(msg);
  else if (msg.type === "panels") showPanels(msg);
  else if (msg.type === "frame") onFrame(msg);
  else if (msg.type === "trials") showTrials(msg);
  else if (msg.type === "message") say(msg.text, msg.level, msg.panel);
}

function say(text, level = "info", panel = null) {
  const line = document.createElement("div");
  line.className = level;
  const owner = panel && app.panels.find((p) => p.id === panel);
  line.textContent = (owner ? owner.desc.algo + ": " : "") + text;
  const box = $("#messages");
  box.prepend(line);
  while (box.children.length > 4) box.lastChild.remove();
}

// -- forms ---------------------------------------------------------------------------------

function showCatalog(cat) {
  app.catalog = cat;
  for (const fs of document.querySelectorAll("fieldset.algos")) {
    fs.querySelectorAll("label").forEach((l) => l.remove());
    for (const a of cat.algorithms) {
      const label = document.createElement("label");
      label.title = a.description;
      label.innerHTML = `<input type="checkbox" name="algo" value="${a.name}"${a.name === "raft" ? " checked" : ""}> ${a.name} `;
      fs.append(label);
    }
  }
  const list = $(".mistake-list");
  list.innerHTML = "";
  for (const a of cat.algorithms) {
    for (const m of a.mistakes) {
      const label = document.createElement("label");
      label.innerHTML = `<input type="checkbox" name="mistake" value="${a.name}.${m.name}"> <b>${a.name}</b>: ${m.title} ` +
        `<span class="breaks">— breaks: ${m.breaks}. To see it: ${m.how_to_see}.</span>`;
      list.append(label);
    }
  }
  if (!list.children.length) list.textContent = "no algorithm registers deliberate mistakes";
  const select = $("select[name=attach_algo]");
  select.innerHTML = cat.algorithms.map((a) => `<option${a.name === "raft" ? " selected" : ""}>${a.name}</option>`).join("");
  $("#script").innerHTML = cat.scripts.map((s) => `<option value="${s.name}">${s.title}</option>`).join("");
}

function checkedAlgos(form) {
  return [...form.querySelectorAll("input[name=algo]:checked")].map((i) => i.value);
}

function bindForms() {
  for (const b of document.querySelectorAll("#tabs button")) {
    b.onclick = () => {
      document.querySelectorAll("#tabs button").forEach((x) => x.classList.toggle("active", x === b));
      document.querySelectorAll("#forms form").forEach((f) => { f.hidden = f.dataset.tab !== b.dataset.tab; });
    };
  }
  $("#form-sim").onsubmit = (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const mistakes = {};
    for (const box of f.querySelectorAll("input[name=mistake]:checked")) {
      const [algo, name] = box.value.split(".");
      (mistakes[algo] = mistakes[algo] || []).push(name);
    }
    send({ op: "sim", algos: checkedAlgos(f), nodes: +f.nodes.value, seed: +f.seed.value,
           delay_lo: +f.delay_lo.value, delay_hi: +f.delay_hi.value, loss: +f.loss.value, mistakes });
  };
  $("#form-real").onsubmit = (ev) => {
    ev.preventDefault();
    send({ op: "cluster", algos: checkedAlgos(ev.target), nodes: +ev.target.nodes.value });
  };
  $("#attach").onclick = () => {
    const f = $("#form-real");
    send({ op: "attach", algo: f.attach_algo.value, cluster: f.cluster.value, keys: f.keys.value, identity: f.identity.value });
  };
  $("#form-replay").onsubmit = (ev) => {
    ev.preventDefault();
    send({ op: "replay", path: ev.target.path.value });
  };
  $("#play").onclick = () => send({ op: app.playing ? "pause" : "play" });
  $("#step").onclick = () => send({ op: "step" });
  $("#speed").oninput = (ev) => {
    app.speed = Math.round(10 ** +ev.target.value * 100) / 100;
    $("#speed-label").textContent = app.speed + "x";
    if (app.source !== "replay") send({ op: "speed", value: app.speed });
  };
  $("#trigger").onclick = () => act("trigger");
  $("#heal").onclick = () => act("heal");
  $("#propose").onclick = () => act("propose");
  $("#run-script").onclick = () => send({ op: "script", name: $("#script").value });
  $("#stop").onclick = () => send({ op: "stop" });
  $("#replay-play").onclick = () => {
    app.replay.playing = !app.replay.playing;
    app.replay.last = performance.now();
    if (app.replay.playing && app.replay.t >= app.replay.t1) app.replay.t = app.replay.t0;
    $("#replay-play").textContent = app.replay.playing ? "Pause" : "Play";
  };
  $("#slider").oninput = (ev) => {
    const r = app.replay;
    r.t = r.t0 + (r.t1 - r.t0) * (+ev.target.value / 1000);
    r.playing = false;
    $("#replay-play").textContent = "Play";
  };
}

function act(action, panelId = null, extra = {}) {
  const linked = $("#linked").checked || app.panels.length === 1;
  send({ op: "act", action, panel: linked || !panelId ? "all" : panelId, ...extra });
}

function showTrials(msg) {
  const box = $("#trials");
  const rows = msg.trials.map((t) => `<tr><td><input type="checkbox" value="${t.index}"${t.replayable ? "" : " disabled"}></td>` +
    `<td>${t.scenario}</td><td>${t.algo}</td><td>n=${t.nodes}</td><td>trial ${t.trial}</td><td>seed ${t.seed}</td>` +
    `<td>${t.ok ? "ok" : "failed"}</td></tr>`).join("");
  const note = msg.trials.some((t) => t.replayable) ? "pick up to 3 trials (side by side)" :
    "this run was on real processes: bench compare keeps no events of those, so it cannot be replayed";
  box.innerHTML = `<p>${note} <button type="button" id="replay-trials">Replay selected</button></p><table>${rows}</table>`;
  $("#replay-trials").onclick = () => {
    const picks = [...box.querySelectorAll("input:checked")].map((i) => +i.value);
    if (!picks.length) return say("select at least one trial", "error");
    send({ op: "replay", path: msg.path, trials: picks });
  };
}

// -- panels --------------------------------------------------------------------------------

function showPanels(msg) {
  app.source = msg.source;
  app.gen = msg.gen;
  const main = $("#panels");
  main.innerHTML = "";
  app.panels = msg.panels.map((desc) => new Panel(desc, msg.source));
  const controls = $("#controls");
  controls.hidden = !msg.panels.length;
  controls.dataset.source = msg.source;
  app.playing = true;
  $("#play").textContent = "Pause";
  if (msg.source === "replay") startReplay();
  else app.anim = { from: msg.now || 0, to: msg.now || 0, start: performance.now() };
}

function startReplay() {
  const times = app.panels.flatMap((p) => [p.items.length ? p.items[0].t : Infinity, p.flights.length ? p.flights[0][3] : Infinity]);
  const ends = app.panels.flatMap((p) => [p.items.length ? p.items[p.items.length - 1].t : -Infinity,
    p.flights.reduce((m, f) => Math.max(m, f[4]), -Infinity)]);
  const r = app.replay;
  r.t0 = Math.min(...times);
  r.t1 = Math.max(...ends);
  if (!isFinite(r.t0)) { r.t0 = 0; r.t1 = 1; }
  r.t = r.t0;
  r.playing = false;
  $("#replay-play").textContent = "Play";
}

function freshState(ids) {
  const nodes = {};
  for (const id of ids) {
    nodes[id] = { role: "follower", term: 0, leader: null, vote: null, up: true, paused: false, timer: null,
                  status: {}, lastSend: -Infinity, counters: null };
  }
  return { nodes, groups: null, elections: 0, leaderChanges: 0, timeline: [], violation: null, messages: 0 };
}

class Panel {
  constructor(desc, source) {
    this.desc = desc;
    this.id = desc.id;
    this.ids = desc.ids;
    this.source = source;
    this.items = [];
    this.next = 0;
    this.flights = [];
    this.fnext = 0;
    this.active = [];
    this.checkpoints = [];
    this.stats = {};
    this.sampled = 0;
    this.state = freshState(this.ids);
    this.el = $("#panel-template").content.firstElementChild.cloneNode(true);
    this.el.dataset.panel = this.id;
    $("#panels").append(this.el);
    const kind = { sim: "simulated", cluster: "real processes", replay: "replay" }[desc.kind] || desc.kind;
    $(".title", this.el).textContent = `${desc.algo} · ${kind} · ${this.ids.length} nodes`;
    $(".label", this.el).textContent = this.describe(desc);
    if (desc.mistakes && desc.mistakes.length) {
      const badge = $(".badge", this.el);
      badge.hidden = false;
      badge.textContent = "DELIBERATELY BROKEN: " + desc.mistakes.map((m) => m.title).join("; ");
      badge.title = desc.mistakes.map((m) => m.breaks).join("\n");
    }
    this.stage = $(".stage", this.el);
    this.canvas = $("canvas.flights", this.el);
    this.svg = $("svg.ring", this.el);
    this.menu = $(".menu", this.el);
    this.nodeEls = {};
    this.layoutKey = "";
    this.lastSlow = 0;
    for (const id of this.ids) this.makeNode(id);
    this.bindStage();
    if (desc.kind === "replay") this.loadBundle(desc);
    if (desc.snapshot) {
      // a simulation already running when this page connected: start from its nodes' status
      for (const id of desc.snapshot.down) Object.assign(this.state.nodes[id], { up: false, role: "down" });
      this.items.push({ t: desc.snapshot.t, kind: "_status", nodes: desc.snapshot.nodes });
    }
  }

  describe(desc) {
    if (desc.kind === "sim") {
      return `seed ${desc.seed} · delay ${desc.delay_ms[0]}–${desc.delay_ms[1]} ms · loss ${desc.loss} · ` +
        "messages exact (simulator)";
    }
    if (desc.kind === "cluster") {
      if (desc.messages === "traced") {
        return `${desc.label} · messages from the nodes' send/receive events (exact; each drawn for at least 150 ms)`;
      }
      if (desc.messages === "counters") return `${desc.label} · messages drawn from counters (types and counts exact, timing not)`;
      return `${desc.label} · messages ${desc.messages}`;
    }
    return desc.label || "";
  }

  // -- data in --

  addItems(part) {
    const add = [];
    for (const e of part.events || []) add.push(e);
    for (const t of part.timers || []) add.push({ t: t.t, kind: "_timer", node: t.node, deadline: t.deadline });
    for (const s of part.statuses || []) add.push({ t: s.t, kind: "_status", nodes: s.nodes });
    if (part.status && Object.keys(part.status).length) add.push({ t: part.statusAt, kind: "_status", nodes: part.status });
    add.sort((a, b) => a.t - b.t);
    for (const item of add) this.items.push(item);
    for (const f of part.flights || []) this.flights.push(f);
  }

  onFrame(part, now) {
    this.addItems({ ...part, statusAt: now });
    this.stats = part.stats || this.stats;
    this.sampled += part.sampled || 0;
    if (part.violation) this.state.violation = part.violation;
  }

  loadBundle(desc) {
    this.addItems(desc);
    this.items.sort((a, b) => a.t - b.t);
    this.flights.sort((a, b) => a[3] - b[3]);
    this.maxFlight = this.flights.reduce((m, f) => Math.max(m, f[4] - f[3]), 0);
    this.shownAt = -Infinity;
  }

  // -- state at time T --

  advanceTo(T) {
    const items = this.items;
    while (this.next < items.length && items[this.next].t <= T) {
      this.apply(items[this.next++]);
      if (this.source === "replay" && this.next % CHECKPOINT_EVERY === 0) {
        this.checkpoints.push({ next: this.next, t: items[this.next - 1].t, state: structuredClone(this.state) });
      }
    }
    const flights = this.flights;
    while (this.fnext < flights.length && flights[this.fnext][3] <= T) {
      const f = flights[this.fnext++];
      this.active.push(f);
      this.state.messages += 1;
      const n = this.state.nodes[f[0]];
      if (n && f[3] > n.lastSend) n.lastSend = f[3];
    }
    if (this.source !== "replay" && this.next > 20000) {
      this.items.splice(0, this.next);
      this.next = 0;
    }
    if (this.source !== "replay" && this.fnext > 20000) {
      this.flights.splice(0, this.fnext);
      this.fnext = 0;
    }
  }

  seek(T) {
    // replay: go back to the last checkpoint before T when T moved backwards, then forward
    if (T !== this.shownAt) this.lastSlow = 0; // a seek: redraw the counters, timeline and table at once
    if (T < this.shownAt) {
      let cp = null;
      for (const c of this.checkpoints) if (c.t <= T) cp = c;
      this.state = cp ? structuredClone(cp.state) : freshState(this.ids);
      this.next = cp ? cp.next : 0;
      this.fnext = 0;
      this.active = [];
      this.state.messages = 0;
      for (const f of this.flights) {
        if (f[3] > T) break;
        this.fnext++;
        this.state.messages++;
        const n = this.state.nodes[f[0]];
        if (n && f[3] > n.lastSend) n.lastSend = f[3];
        if (f[4] >= T - this.maxFlight) this.active.push(f);
      }
    }
    this.shownAt = T;
    this.advanceTo(T);
  }

  apply(e) {
    const st = this.state;
    const n = st.nodes[e.node];
    switch (e.kind) {
      case "role":
        if (!n) break;
        n.role = e.to; n.term = e.term; n.seenRole = true;
        if (e.to === "leader") { st.leaderChanges++; st.timeline.push({ t: e.t, kind: "leader", node: e.node, term: e.term }); }
        else if (e.from === "leader") st.timeline.push({ t: e.t, kind: "end", node: e.node });
        break;
      case "term": if (n) n.term = e.to; break;
      case "leader": if (n) n.leader = e.leader; break;
      case "election_started": st.elections++; break;
      case "vote_granted": if (n) { n.vote = e.candidate; n.voteTerm = e.term; } break;
      case "apply": if (n) n.applied = e.index; break;
      case "crash": case "stop": case "stopped":
        if (!n) break;
        if (n.role === "leader") st.timeline.push({ t: e.t, kind: "end", node: e.node });
        n.up = false; n.role = "down"; n.timer = null; n.paused = false;
        st.timeline.push({ t: e.t, kind: "fault", node: e.node, what: e.kind });
        break;
      case "restart": case "started":
        if (!n) break;
        n.up = true; n.paused = false;
        if (n.role === "down") n.role = "follower";
        break;
      case "pause": if (n) { n.paused = true; st.timeline.push({ t: e.t, kind: "fault", node: e.node, what: "pause" }); } break;
      case "resume": if (n) n.paused = false; break;
      case "partition":
        if (e.node === 0 && e.groups) { st.groups = e.groups; st.timeline.push({ t: e.t, kind: "fault", node: 0, what: "partition" }); }
        break;
      case "heal": if (e.node === 0) { st.groups = null; st.timeline.push({ t: e.t, kind: "fault", node: 0, what: "heal" }); } break;
      case "counters": if (n) n.counters = e.counters; break;
      case "_timer": if (n) n.timer = e.deadline == null ? null : { armedAt: e.t, deadline: e.deadline }; break;
      case "_status":
        for (const [id, s] of Object.entries(e.nodes)) {
          const m = st.nodes[id];
          if (!m) continue;
          Object.assign(m.status, s);
          if (s.voted_for !== undefined) m.vote = s.voted_for;
          if (!m.seenRole && s.role && m.up) { m.role = s.role; m.term = s.term; m.leader = s.leader; }
        }
        break;
      default: break;
    }
    if (e.wall && this.source === "cluster") {
      app.perf.lags.push(Date.now() - e.wall * 1000);
      if (app.perf.lags.length > 400) app.perf.lags.splice(0, 200);
    }
  }

  leader() {
    let best = null;
    for (const id of this.ids) {
      const n = this.state.nodes[id];
      if (n.up && n.role === "leader" && (best === null || n.term > this.state.nodes[best].term)) best = id;
    }
    return best;
  }

  // -- layout and drawing --

  zones() {
    // which zone each node is drawn in: A and B for the first two partition groups, the ring for the rest
    const st = this.state;
    const zone = {};
    if (st.groups) {
      const groups = st.groups.filter((g) => !(g.length === 1 && st.nodes[g[0]] && st.nodes[g[0]].paused));
      groups.forEach((g, k) => g.forEach((id) => { zone[id] = k === 0 ? "A" : "B"; }));
      const named = new Set(groups.flat());
      if (groups.length && named.size === this.ids.length) {
        // every node named: the last group is the ring
        groups[groups.length - 1].forEach((id) => { delete zone[id]; });
      }
    }
    return zone;
  }

  layout() {
    const w = this.stage.clientWidth, h = this.stage.clientHeight;
    const zone = this.zones();
    const key = `${w}x${h}:${JSON.stringify(zone)}`;
    if (key === this.layoutKey) return;
    this.layoutKey = key;
    this.w = w; this.h = h;
    this.canvas.width = w * devicePixelRatio; this.canvas.height = h * devicePixelRatio;
    this.svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    const ring = this.ids.filter((id) => !zone[id]);
    const a = this.ids.filter((id) => zone[id] === "A"), b = this.ids.filter((id) => zone[id] === "B");
    const R = Math.min(w * 0.26, h * 0.4);
    this.r = Math.max(6, Math.min(24, (Math.PI * R) / Math.max(3, this.ids.length) * 0.75));
    this.pos = {};
    ring.forEach((id, k) => {
      const ang = -Math.PI / 2 + (2 * Math.PI * k) / Math.max(1, ring.length);
      this.pos[id] = [w / 2 + R * Math.cos(ang), h / 2 + R * Math.sin(ang)];
    });
    const column = (list, x) => list.forEach((id, k) => {
      this.pos[id] = [x, h * (0.15 + (0.75 * (k + 0.5)) / list.length)];
    });
    column(a, w * 0.11);
    column(b, w * 0.89);
    this.stage.classList.toggle("partitioned", a.length + b.length > 0);
    for (const id of this.ids) {
      const g = this.nodeEls[id];
      g.setAttribute("transform", `translate(${this.pos[id][0]},${this.pos[id][1]})`);
      g.querySelector("circle.body").setAttribute("r", this.r);
      g.querySelector("text.term").setAttribute("y", this.r + 9);
      g.querySelector("text.id").style.fontSize = `${Math.max(7, Math.min(12, this.r * 0.9))}px`;
    }
    this.svg.classList.toggle("crowded", this.ids.length > 20);
  }

  makeNode(id) {
    const g = document.createElementNS(SVG, "g");
    g.setAttribute("class", "node follower");
    g.dataset.node = id;
    g.innerHTML = `<circle class="pulse" r="0"></circle><path class="timer"></path><circle class="body"></circle>` +
      `<text class="id">${id}</text><text class="term"></text>`;
    this.svg.append(g);
    this.nodeEls[id] = g;
  }

  draw(T, speed) {
    this.layout();
    const st = this.state;
    const r = this.r;
    for (const id of this.ids) {
      const n = st.nodes[id];
      const g = this.nodeEls[id];
      const cls = `node ${n.up ? n.role : "down"}${n.paused ? " paused" : ""}`;
      if (g.getAttribute("class") !== cls) g.setAttribute("class", cls);
      g.dataset.role = n.up ? n.role : "down";
      const label = n.up ? `t${n.term}` : "down";
      const term = g.querySelector("text.term");
      if (term.textContent !== label) term.textContent = label;
      const arc = g.querySelector("path.timer");
      if (n.timer && n.up && T < n.timer.deadline && n.timer.deadline > n.timer.armedAt) {
        const frac = Math.min(1, (n.timer.deadline - T) / (n.timer.deadline - n.timer.armedAt));
        arc.setAttribute("d", arcPath(r + 4, frac));
      } else if (arc.getAttribute("d")) arc.setAttribute("d", "");
      const pulse = g.querySelector("circle.pulse");
      const age = (T - n.lastSend) / Math.max(1e-6, speed);
      if (n.up && n.role === "leader" && age >= 0 && age < PULSE_WALL_MS) {
        pulse.setAttribute("r", r + 2 + (age / PULSE_WALL_MS) * r);
        pulse.setAttribute("stroke-opacity", 1 - age / PULSE_WALL_MS);
      } else pulse.setAttribute("r", 0);
    }
    this.drawFlights(T, speed);
    const leader = this.leader();
    this.el.dataset.leader = leader === null ? "" : leader;
    this.el.dataset.term = leader === null ? "" : st.nodes[leader].term;
    const now = performance.now();
    if (now - this.lastSlow > 250) {
      this.lastSlow = now;
      this.drawCounters();
      this.drawTimeline(T);
      this.drawLogs();
      const v = $(".violation", this.el);
      if (st.violation && v.hidden) { v.hidden = false; v.textContent = "INVARIANT VIOLATED — the run stopped here\n" + st.violation; }
    }
  }

  drawFlights(T, speed) {
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
    ctx.clearRect(0, 0, this.w, this.h);
    const linger = LINGER_WALL_MS * speed;
    const keep = [];
    const dot = Math.max(2.5, Math.min(5, this.r / 3));
    for (const f of this.active) {
      const [src, dst, type, t0, t1, fate] = f;
      if (T > t1 + linger || t0 > T) { if (t0 > T) keep.push(f); continue; }
      keep.push(f);
      const a = this.pos[src], b = this.pos[dst];
      if (!a || !b) continue;
      ctx.fillStyle = ctx.strokeStyle = typeColor(type);
      if (fate === "cut") { cross(ctx, a[0] + (b[0] - a[0]) * 0.12, a[1] + (b[1] - a[1]) * 0.12, 4); continue; }
      const p = t1 > t0 ? Math.min(1, (T - t0) / (t1 - t0)) : 1;
      const x = a[0] + (b[0] - a[0]) * p, y = a[1] + (b[1] - a[1]) * p;
      if (T <= t1) {
        ctx.globalAlpha = fate === "lost" ? 1 - 0.7 * p : 1;
        ctx.beginPath(); ctx.arc(x, y, dot, 0, 2 * Math.PI); ctx.fill();
        ctx.globalAlpha = 1;
      } else if (fate === "dropped" || fate === "lost") {
        cross(ctx, x, y, 4);
      }
    }
    this.active = keep;
  }

  drawCounters() {
    const st = this.state, s = this.stats;
    const live = this.source !== "replay";
    let sent = live ? s.sent : st.messages;
    if (!live && !this.flights.length) {
      sent = Object.values(st.nodes).reduce((sum, n) => sum + (n.counters ? Object.values(n.counters.sent || {}).reduce((a, b) => a + b, 0) : 0), 0);
    }
    const parts = [`messages ${sent ?? 0}`];
    if (live && s.bytes !== undefined) parts.push(`bytes ${fmtBytes(s.bytes)}`);
    if (live && s.dropped !== undefined) parts.push(`dropped ${s.dropped}`);
    parts.push(`elections ${st.elections}`, `new leaders ${st.leaderChanges}`);
    if (this.sampled) parts.push(`(drawn: a sample; ${this.sampled} messages not drawn)`);
    if (s.undrawn) parts.push(`(${s.undrawn} messages over the per-link cap not drawn)`);
    $(".counters", this.el).textContent = parts.join(" · ");
  }

  drawTimeline(T) {
    // terms and leaders: one coloured bar per reign, over the last 10 s (live) or the whole run (replay)
    const c = $("canvas.timeline", this.el);
    const w = c.clientWidth, h = c.clientHeight;
    c.width = w * devicePixelRatio; c.height = h * devicePixelRatio;
    const ctx = c.getContext("2d");
    ctx.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const replay = this.source === "replay";
    const first = this.state.timeline.length ? this.state.timeline[0].t : T;
    const from = replay ? app.replay.t0 : Math.max(Math.min(first, T - 2000), T - 10000), to = replay ? app.replay.t1 : T;
    const x = (t) => ((t - from) / Math.max(1, to - from)) * w;
    const line = this.state.timeline;
    const open = {};
    const bars = [];
    for (const m of line) {
      if (m.kind === "leader") { for (const k of Object.keys(open)) { bars.push({ ...open[k], end: m.t }); delete open[k]; } open[m.node] = m; }
      else if (m.kind === "end" && open[m.node]) { bars.push({ ...open[m.node], end: m.t }); delete open[m.node]; }
    }
    for (const k of Object.keys(open)) bars.push({ ...open[k], end: T });
    ctx.font = "10px sans-serif";
    for (const b of bars) {
      if (b.end < from) continue;
      const x0 = Math.max(0, x(b.t)), x1 = Math.min(w, x(Math.min(b.end, T)));
      ctx.fillStyle = nodeColor(b.node);
      ctx.fillRect(x0, 4, Math.max(1, x1 - x0), 14);
      if (x1 - x0 > 40) { ctx.fillStyle = "#fff"; ctx.fillText(`n${b.node} t${b.term}`, x0 + 3, 15); }
    }
    for (const m of line) {
      if (m.kind !== "fault" || m.t < from) continue;
      ctx.fillStyle = "#b00";
      ctx.fillRect(x(m.t), 20, 2, 12);
    }
    if (replay) { ctx.fillStyle = "#000"; ctx.fillRect(x(T), 0, 1, h); }
  }

  drawLogs() {
    const body = $("table.logs tbody", this.el);
    const rows = this.ids.map((id) => {
      const n = this.state.nodes[id];
      const s = n.status;
      const last = s.last_log_index, commit = s.commit_index ?? n.applied;
      let log = "—";
      if (last !== undefined) {
        const show = Math.min(last, 12), first = last - show + 1;
        let boxes = "";
        for (let i = first; i <= last; i++) boxes += `<i class="${i <= (commit ?? 0) ? "c" : ""}"></i>`;
        log = `<span class="log">${boxes}</span> ${last} (${commit ?? 0})`;
      } else if (n.applied !== undefined) log = `applied ${n.applied}`;
      const vote = n.vote == null ? "—" : n.vote;
      return `<tr data-node="${id}"><td>${id}</td><td>${n.up ? n.role + (n.paused ? " (paused)" : "") : "down"}</td>` +
        `<td>${n.term}</td><td>${vote}</td><td>${log}</td></tr>`;
    }).join("");
    if (body.innerHTML !== rows) body.innerHTML = rows;
  }

  // -- clicks and drags --

  bindStage() {
    let drag = null;
    this.svg.addEventListener("pointerdown", (ev) => {
      const g = ev.target.closest("g.node");
      if (!g || this.source === "replay") return;
      drag = { id: +g.dataset.node, x: ev.clientX, y: ev.clientY, moved: false };
      this.svg.setPointerCapture(ev.pointerId);
    });
    this.svg.addEventListener("pointermove", (ev) => {
      if (!drag) return;
      if (!drag.moved && Math.hypot(ev.clientX - drag.x, ev.clientY - drag.y) < 6) return;
      drag.moved = true;
      this.stage.classList.add("dragging");
      const box = this.stage.getBoundingClientRect();
      const fx = (ev.clientX - box.left) / box.width;
      this.nodeEls[drag.id].setAttribute("transform", `translate(${ev.clientX - box.left},${ev.clientY - box.top})`);
      $(".zone-a", this.el).classList.toggle("hover", fx < 0.22);
      $(".zone-b", this.el).classList.toggle("hover", fx > 0.78);
    });
    this.svg.addEventListener("pointerup", (ev) => {
      if (!drag) return;
      const d = drag;
      drag = null;
      this.stage.classList.remove("dragging");
      this.el.querySelectorAll(".zone").forEach((z) => z.classList.remove("hover"));
      if (!d.moved) return this.openMenu(d.id, ev);
      const box = this.stage.getBoundingClientRect();
      const fx = (ev.clientX - box.left) / box.width;
      const zone = this.zones();
      delete zone[d.id];
      if (fx < 0.22) zone[d.id] = "A"; else if (fx > 0.78) zone[d.id] = "B";
      const a = this.ids.filter((id) => zone[id] === "A"), b = this.ids.filter((id) => zone[id] === "B");
      this.layoutKey = "";
      const groups = [a, b].filter((g) => g.length);
      if (groups.length) act("partition", this.id, { groups }); else act("heal", this.id);
    });
    document.addEventListener("pointerdown", (ev) => {
      if (!this.menu.hidden && !this.menu.contains(ev.target)) this.menu.hidden = true;
    });
  }

  openMenu(id, ev) {
    const n = this.state.nodes[id];
    const can = new Set(this.desc.actions || []);
    const options = [];
    if (n.up && can.has("crash")) options.push(["crash", "Crash (kill)"]);
    if (n.up && can.has("stop")) options.push(["stop", "Stop"]);
    if (!n.up && can.has("restart")) options.push(["restart", "Restart"]);
    if (n.up && !n.paused && can.has("pause")) options.push(["pause", "Pause"]);
    if (n.paused && can.has("resume")) options.push(["resume", "Resume"]);
    if (!options.length) return;
    const box = this.stage.getBoundingClientRect();
    this.menu.innerHTML = `<b style="padding:0.2em 1em">node ${id}</b>` +
      options.map(([a, label]) => `<button type="button" data-action="${a}">${label}</button>`).join("");
    this.menu.style.left = `${ev.clientX - box.left + 8}px`;
    this.menu.style.top = `${ev.clientY - box.top + 8}px`;
    this.menu.hidden = false;
    this.menu.querySelectorAll("button").forEach((b) => {
      b.onclick = () => { this.menu.hidden = true; act(b.dataset.action, this.id, { node: id }); };
    });
  }
}

// -- the clock -----------------------------------------------------------------------------

function onFrame(msg) {
  if (msg.gen !== app.gen) return; // a frame of the panels shown before
  const T = currentLiveTime();
  app.anim = { from: Math.min(T, msg.now), to: msg.now, start: performance.now() };
  app.playing = msg.playing;
  app.reachedSpeed = msg.reached_speed;
  $("#play").textContent = msg.playing ? "Pause" : "Play";
  if (app.source === "sim") {
    const note = msg.playing && msg.reached_speed < msg.speed * 0.9 ?
      `the simulation keeps up at ${msg.reached_speed.toFixed(2)}x only` : "";
    $("#reached").textContent = note;
  }
  for (const p of app.panels) if (msg.panels[p.id]) p.onFrame(msg.panels[p.id], msg.now);
}

function currentLiveTime() {
  const a = app.anim;
  const k = Math.min(1, (performance.now() - a.start) / TICK_MS);
  return a.from + (a.to - a.from) * k;
}

function frame(now) {
  const perf = app.perf;
  perf.frames++;
  if (now - perf.since >= 1000) {
    perf.fps = (perf.frames * 1000) / (now - perf.since);
    perf.frames = 0;
    perf.since = now;
    const lags = [...perf.lags].sort((a, b) => a - b);
    perf.lag = lags.length ? lags[Math.floor(lags.length / 2)] : null;
    $("#perf").textContent = `${perf.fps.toFixed(0)} fps` + (perf.lag != null ? ` · event lag ${perf.lag.toFixed(0)} ms (median)` : "");
  }
  if (app.source === "replay") {
    const r = app.replay;
    if (r.playing) {
      r.t = Math.min(r.t1, r.t + (now - r.last) * app.speed);
      if (r.t >= r.t1) { r.playing = false; $("#replay-play").textContent = "Play"; }
      $("#slider").value = Math.round(((r.t - r.t0) / Math.max(1e-9, r.t1 - r.t0)) * 1000);
    }
    r.last = now;
    $("#slider-label").textContent = `${((r.t - r.t0) / 1000).toFixed(3)} s of ${((r.t1 - r.t0) / 1000).toFixed(3)} s`;
    for (const p of app.panels) { p.seek(r.t); p.draw(r.t, app.speed); }
  } else if (app.panels.length) {
    const T = currentLiveTime();
    const speed = app.source === "sim" ? Math.max(0.01, app.playing ? app.speed : 0.05) : 1;
    for (const p of app.panels) { p.advanceTo(T); p.draw(T, speed); }
  }
  drawLegend();
  requestAnimationFrame(frame);
}

// -- drawing helpers -----------------------------------------------------------------------

function arcPath(radius, frac) {
  if (frac >= 0.999) return `M 0 ${-radius} A ${radius} ${radius} 0 1 1 -0.01 ${-radius}`;
  const ang = -Math.PI / 2 + frac * 2 * Math.PI;
  const x = radius * Math.cos(ang), y = radius * Math.sin(ang);
  return `M 0 ${-radius} A ${radius} ${radius} 0 ${frac > 0.5 ? 1 : 0} 1 ${x.toFixed(2)} ${y.toFixed(2)}`;
}

function cross(ctx, x, y, s) {
  ctx.lineWidth = 2;
  ctx.beginPath(); ctx.moveTo(x - s, y - s); ctx.lineTo(x + s, y + s); ctx.moveTo(x + s, y - s); ctx.lineTo(x - s, y + s); ctx.stroke();
}

function hue(text) {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) % 360;
  return h;
}

function typeColor(type) {
  let c = app.typeColors.get(type);
  if (!c) { c = `hsl(${(hue(type) * 7) % 360} 70% 45%)`; app.typeColors.set(type, c); app.legendDirty = true; }
  return c;
}

function nodeColor(id) { return `hsl(${(id * 67) % 360} 55% 45%)`; }

function drawLegend() {
  if (!app.legendDirty) return;
  app.legendDirty = false;
  $("#legend").innerHTML = [...app.typeColors].map(([t, c]) => `<span><b style="background:${c}"></b>${t}</span>`).join("");
}

function fmtBytes(n) {
  return n > 1 << 20 ? (n / (1 << 20)).toFixed(1) + " MiB" : n > 1024 ? (n / 1024).toFixed(1) + " KiB" : n + " B";
}

// for tests and the curious: the state each panel shows, and the page's own measurements
window.quorumlab = {
  panels: () => app.panels.map((p) => ({ id: p.id, algo: p.desc.algo, leader: p.leader(),
    nodes: p.state.nodes, violation: p.state.violation, messages: p.state.messages, flightsActive: p.active.length })),
  perf: () => ({ fps: app.perf.fps, lagMs: app.perf.lag, reachedSpeed: app.reachedSpeed, speed: app.speed }),
  replay: () => ({ ...app.replay }),
};

bindForms();
connect();
requestAnimationFrame(frame);
