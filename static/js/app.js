// mpscope dashboard: one Socket.IO connection feeds the page's one model of the shared
// objects (objects.js); the DOM is updated at most once per animation frame, however fast
// changes arrive. This module composes the page: under `mpscope run` it also starts the
// program's parts (program.js), passing them what they need.

import { io } from "../vendor/socket.io-client/socket.io.esm.min.js";
import { ActivityChart } from "./chart.js";
import { WorkersTable } from "./workers.js";
import { initControls, showCountLimit } from "./controls.js";
import { toast, setConnection, showBanner } from "./ui.js";
import { DiagnosesBanner } from "./diagnoses.js";
import { OutputLog } from "./output.js";
import { findDeadlocks, LocksPanel, namedLockName, namedLocks, waitingFor } from "./locks.js";
import { Inspector } from "./inspector.js";
import { ObjectPanels, ObjectsModel } from "./objects.js";
import { parseSnapshotsOffThread } from "./offthread.js";
import { BuiltinPanels } from "./builtin.js";
import { startProgramPanel } from "./program.js";
import { startReplay } from "./replay.js";
import { followReplay, pageNow } from "./clock.js";
import { access, api, NO_ACCESS, socketOptions } from "./session.js";
import { ProcessMap } from "./procmap.js";

const $ = (id) => document.getElementById(id);
// The shell is the same for every client; what this one may do comes with its token
// (session.js). A viewer's token removes the controls; no token (or a wrong one) gets none.
const allowed = await access();
const readOnly = document.body.dataset.readOnly === "true" || !allowed || allowed.readOnly;
if (readOnly) {
  for (const el of document.querySelectorAll("[data-admin-only]")) el.remove();
  for (const el of document.querySelectorAll(".readonly-note")) el.hidden = false;
}

// Every shared object, by id. The built-in d and l have their own panels (builtin.js), the
// named locks their table (locks.js); every other object gets a kind panel (objects.js).
// (A recording opened with `mpscope open` has no such panels: every object gets a kind panel.)
const builtinMode = document.body.dataset.mode === "builtin";
const objects = new ObjectsModel({
  elsewhere: (id) => builtinMode && (id === "d" || id === "l" || namedLockName(id) !== null),
});
const socket = io(socketOptions({ autoConnect: allowed !== null }));
parseSnapshotsOffThread(socket.io);
if (!allowed) {
  setConnection("offline", "No token");
  showBanner(NO_ACCESS, "bad");
}

/** Send a command over the socket; resolve with the server's answer (the REST body + status). */
function command(event, body) {
  return new Promise((resolve) => {
    socket.timeout(10000).emit(event, body, (err, answer) => {
      if (err) answer = { status: 0, error: "no answer from the server" };
      if (answer.error) toast(answer.error, "error");
      resolve(answer);
    });
  });
}

const workers = new WorkersTable($("workers"), {
  readOnly,
  tree: !builtinMode, // a program's processes as its process tree
  kill: (pid, signal) => command("kill", { pid, signal }),
});

const builtin = new BuiltinPanels(objects);

// -- rendering: at most once per frame, and at most every RENDER_GAP_MS -----------------
// A frame's cost is bounded (only the visible rows are drawn) but not free: at 10,000
// changes/s a render every vsync kept the main thread busy enough that, with the machine's
// cores shared, its frames ran 50-300 ms on the wall for ~10-20 ms of CPU (make bench:
// browser.longtasks). Under a flood the page draws ~10 times a second; a lone change, a
// click or an event after a quiet spell is drawn at the next frame as before. Scrolling
// and flash fades do not wait for it (vlist.js draws on scroll, CSS animates).
const RENDER_GAP_MS = 100;
let frameRequested = false;
let lastRenderAt = -Infinity;
function scheduleRender() {
  if (frameRequested) return;
  frameRequested = true;
  const wait = lastRenderAt + RENDER_GAP_MS - performance.now();
  if (wait > 1) setTimeout(() => requestAnimationFrame(render), wait);
  else requestAnimationFrame(render);
}

const renderHooks = [];
function onRender(hook) { renderHooks.push(hook); }

/** Set an element's text if it reads differently (a write re-lays out its part of the page). */
function setText(id, text) {
  const node = $(id);
  if (node && node.textContent !== text) node.textContent = text;
}

function render(now) {
  frameRequested = false;
  lastRenderAt = performance.now();
  setText("version", `v${objects.version}`);
  for (const hook of renderHooks) hook(now);
  workers.render(pageNow());
  const flashing = builtin.render(now, workers.workers);
  const { live, ended } = workers.counts();
  setText("worker-counts", `${live} running · ${ended} ended`);
  $("no-workers").hidden = live + ended > 0;
  setText("stat-running", String(live));
  setText("stat-changes", objects.mutations.toLocaleString());
  if (flashing) scheduleRender(); // keep flashing rows animating until their flash has faded
}

// -- the live feed ------------------------------------------------------------
let limits = {};

const mib = (bytes) => `${Math.round(bytes / 2 ** 20)} MiB`;
function endedCapText(l) {
  const output = l.ended_output_bytes === undefined ? ""
    : `; their output: up to ${mib(l.ended_output_bytes)} in all, oldest lines dropped first`;
  return `ended workers kept: up to ${l.ended_cap}, oldest dropped first${output}`;
}
let everConnected = false;
let chartStarted = false;

socket.on("connect", () => {
  setConnection("live", "Live");
  showBanner(null);
  if (everConnected) toast("Reconnected; state resynchronised from a fresh snapshot");
  everConnected = true;
});

socket.on("disconnect", (reason) => {
  setConnection("reconnecting", "Reconnecting…");
  showBanner(reason === "io server disconnect"
    ? "The server closed the connection."
    : "Lost the connection to the server — reconnecting automatically…", "bad");
});

socket.io.on("reconnect_attempt", () => setConnection("reconnecting", "Reconnecting…"));
socket.on("connect_error", () => {
  setConnection("offline", "Offline");
  showBanner("Cannot reach the server — retrying…", "bad");
});

// name -> {pid, alive}: each named lock's holder as the server judged it at the last snapshot
let lockLiveness = new Map();

const diagnoses = new DiagnosesBanner($("diagnoses"));
socket.on("diagnoses", (msg) => diagnoses.show(msg.diagnoses));

// A big snapshot is loaded a slice per task (objects.js): what reads the model waits for it.
socket.on("snapshot", (snap) => objects.loadInPieces(snap, (applyWaiting) => {
  loaded(snap);
  const results = applyWaiting(); // after builtin.reset(): keys they add are new
  if (results.includes("gap")) socket.emit("resync");
  else if (results.includes("ok")) scheduleRender();
}));

function loaded(snap) {
  if (snap.replay) followReplay(snap.replay); // first: every hook below shows times at the position
  diagnoses.show(snap.diagnoses);
  lockLiveness = new Map((snap.locks || []).map((lock) => [lock.name, { pid: lock.holder_pid, alive: lock.holder_alive }]));
  workers.load(snap.workers);
  limits = snap.limits || {};
  $("stat-server").textContent = String(snap.server_pid ?? "—");
  updateManager(snap.manager);
  if (limits.max_workers && !readOnly) showCountLimit(limits.max_workers);
  if (limits.ended_cap) $("ended-cap").textContent = endedCapText(limits);
  builtin.reset();
  for (const hook of snapshotHooks) hook(snap);
  if (!chartStarted) { chartStarted = true; chart.push(Date.now() / 1000, builtin.listLength(), 0); }
  scheduleRender();
}

const snapshotHooks = [];
function onSnapshot(hook) { snapshotHooks.push(hook); }

socket.on("changes", (msg) => {
  const result = objects.apply(msg);
  if (result === "gap") socket.emit("resync");
  else if (result === "ok") scheduleRender();
});

// Workers cleared from the table (Clear ended, the ended cap) had ended: a lock they hold
// has a dead holder even though no row says so any more.
const clearedPids = new Set();
socket.on("workers", (msg) => {
  workers.upsert(msg.workers);
  for (const pid of msg.removed || []) {
    workers.remove(pid);
    clearedPids.add(pid);
  }
  if (clearedPids.size > 20000) clearedPids.clear(); // bounded; a snapshot's holder_alive still tells
  scheduleRender();
});

socket.on("manager", updateManager);

function updateManager(info) {
  if (!info) return;
  const restarts = info.restarts ? ` · ${info.restarts} restart${info.restarts === 1 ? "" : "s"}` : "";
  // under `mpscope run` there is no built-in Manager (pid null): the program's are in its panels
  $("manager-info").textContent = info.pid == null ? "" : `Manager PID ${info.pid}${restarts}`;
  if (info.state === "restarting") showBanner("The Manager process died — starting a new one and restoring the shared state…", "bad");
  else if (socket.connected) showBanner(null);
}

// -- chart: one point a second, from what the feed delivered ----------------
const chart = new ActivityChart($("chart"));
let lastCount = 0;
let lastRate = 0;
let shownRate = null;
onRender(() => {
  if (lastRate === shownRate) return;
  shownRate = lastRate;
  $("stat-rate").textContent = lastRate.toLocaleString();
});
setInterval(() => {
  if (!chartStarted) return;
  const rate = objects.mutations - lastCount;
  lastCount = objects.mutations;
  chart.push(Date.now() / 1000, builtin.listLength(), rate);
  lastRate = rate; // shown by the next render: the DOM changes in animation frames only
  scheduleRender(); // uptimes tick
}, 1000);

if (!readOnly && $("spawn-form")) initControls({ command, maxWorkers: () => limits.max_workers });

// -- inside a worker: output, stack, locks --------------------------------------
const outputLog = new OutputLog();
const inspector = new Inspector({ limits: () => limits });
onSnapshot((snap) => outputLog.load(snap.output));

socket.on("output", (msg) => {
  outputLog.add(msg.lines, msg.skipped || 0);
  inspector.add(msg.lines);
  scheduleRender();
});

const button = (label, aria, onclick) => {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "small";
  b.textContent = label;
  b.setAttribute("aria-label", aria);
  b.addEventListener("click", onclick);
  return b;
};
workers.extraActions.push((w, box) => {
  box.append(button("Output", `Output of ${w.pid}`, () => inspector.open(workers.workers.get(w.pid), "output")));
  if (w.state === "starting" || w.state === "running") {
    box.append(button("Stack", `Stack of ${w.pid}`, () => inspector.open(workers.workers.get(w.pid), "stack")));
  }
});

/** A PID whose worker has ended (the worker table knows): a lock it still holds is stuck. */
function isDead(pid) {
  const w = workers.workers.get(pid);
  return w ? w.state === "exited" || w.state === "killed" : clearedPids.has(pid);
}

const locksPanel = new LocksPanel({
  readOnly,
  isDead: (lock) => {
    const w = workers.workers.get(lock.holder_pid);
    if (w) return w.state === "exited" || w.state === "killed";
    return lock.holder_alive === false || clearedPids.has(lock.holder_pid);
  },
  release: async (name) => {
    const response = await api(`/api/locks/${encodeURIComponent(name)}/release`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
    });
    const answer = await response.json();
    toast(answer.error || `Released ${name}: its waiters can go on`, answer.error ? "error" : "");
  },
});

let lastWaiting = new Map();
let lastLocksKey = "";
onRender(() => {
  const locks = namedLocks(objects, lockLiveness);
  const waiting = new Map([...objects.waiting(), ...waitingFor(locks)]);
  for (const cycle of findDeadlocks([...locks, ...objects.lockTable()])) {
    for (const pid of cycle.pids) waiting.set(pid, `deadlocked: ${waiting.get(pid)}`);
  }
  for (const pid of new Set([...waiting.keys(), ...lastWaiting.keys()])) {
    if (waiting.get(pid) !== lastWaiting.get(pid)) workers.dirty.add(pid);
  }
  workers.waiting = lastWaiting = waiting;
  // the lock table is small but rebuilt whole: do it when it changed or once a second
  const lockObjects = objects.lockTable();
  const key = JSON.stringify([locks, lockObjects]) + Math.floor(pageNow()) + workers.counts().ended;
  if (key !== lastLocksKey) { lastLocksKey = key; locksPanel.render(locks, pageNow(), lockObjects); }
  outputLog.render(performance.now());
});

// -- shared objects of every other kind: one panel each, from the kind registry ----
const objectPanels = new ObjectPanels($("objects"), objects, {
  readOnly,
  isDead,
  release: async (id, pid) => {
    const response = await api(`/api/objects/${encodeURIComponent(id)}/release`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ pid }),
    });
    const answer = await response.json().catch(() => ({ error: `the server answered ${response.status}` }));
    toast(answer.error || `Released ${id} on behalf of ${pid}: its waiters can go on`, answer.error ? "error" : "");
  },
});
onRender(() => objectPanels.render());

// -- the Workers panel's Map view: the same model, drawn (procmap.js) -------------------
const procmap = new ProcessMap({
  box: $("procmap"), table: $("workers-table"), tabs: [$("view-table"), $("view-map")],
  workers: workers.workers, objects: objects.objects, requestRender: scheduleRender,
});
socket.on("diagnoses", (msg) => procmap.setDiagnoses(msg.diagnoses));
socket.on("changes", (msg) => procmap.flows.add(msg)); // items per second along each object
onSnapshot((snap) => { procmap.flows.reset(snap); procmap.setDiagnoses(snap.diagnoses); });
onRender(() => procmap.render());

// -- `mpscope run`: the program panel and its Pool tasks -----------------------------
if ($("program")) {
  startProgramPanel({
    command, socket, onSnapshot,
    markRun: (at, text) => { outputLog.markRun(at, text); scheduleRender(); },
    endedAt: (pid) => workers.workers.get(pid)?.ended_at ?? null,
  });
}
// -- `mpscope open`: the recording's time slider ---------------------------------------
if ($("replay")) startReplay({ command, socket, onSnapshot });
