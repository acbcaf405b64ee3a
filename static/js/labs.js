// mpscope Labs: pick a lab, run it on the server, and watch its timeline, output and result
// arrive over the same Socket.IO connection the dashboard uses (one room per run).

import { io } from "../vendor/socket.io-client/socket.io.esm.min.js";
import { buildForm, readForm } from "./params-form.js";
import { Timeline } from "./labs-timeline.js";
import { renderResult } from "./labs-results.js";
import { setConnection, showBanner, toast } from "./ui.js";
import { api, NO_ACCESS, socketOptions } from "./session.js";

const $ = (id) => document.getElementById(id);
const socket = io(socketOptions());
const timeline = new Timeline($("timeline"));

let labs = [];
let current = null;   // the lab shown
let run = null;       // {id, lab, status, events, output, result, started_at, ...}
let seen = { events: 0, output: 0 };
let synced = false;   // until lab_subscribe answers, batches wait in `early`
let early = [];

// -- lab selection ---------------------------------------------------------------------
async function loadLabs() {
  const answer = await api("/api/labs");
  if (answer.status === 401) { showBanner(NO_ACCESS, "bad"); return; }
  labs = await answer.json();
  const list = $("lab-list");
  for (const lab of labs) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = `#${lab.name}`;
    link.textContent = lab.title;
    link.dataset.lab = lab.name;
    item.append(link);
    list.append(item);
  }
  selectLab(location.hash.slice(1));
}

async function selectLab(name) {
  const lab = labs.find((l) => l.name === name) || labs[0];
  if (current && current.name === lab.name) return;
  current = lab;
  for (const a of document.querySelectorAll("#lab-list a")) {
    if (a.dataset.lab === lab.name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  $("lab-title").textContent = lab.title;
  buildForm($("lab-params"), lab.params);
  showRun(null);
  const detail = await (await api(`/api/labs/${lab.name}`)).json();
  showCode(detail.code);
}

window.addEventListener("hashchange", () => selectLab(location.hash.slice(1)));

function showCode(code) {
  const box = $("code");
  box.replaceChildren();
  for (const fn of code) {
    const title = document.createElement("h3");
    title.className = "code-name";
    title.textContent = fn.name;
    const pre = document.createElement("pre");
    const codeEl = document.createElement("code");
    codeEl.textContent = fn.source;
    pre.append(codeEl);
    box.append(title, pre);
  }
}

// -- running ----------------------------------------------------------------------------
$("lab-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("form-error");
  error.hidden = true;
  let params;
  try { params = readForm($("lab-params"), current.params); } catch (e) {
    error.textContent = e.message; error.hidden = false; return;
  }
  $("run-button").disabled = true;
  const answer = await api(`/api/labs/${current.name}/runs`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(params),
  });
  const body = await answer.json();
  if (answer.status !== 201) {
    error.textContent = body.error || `error ${answer.status}`;
    error.hidden = false;
    $("run-button").disabled = false;
    return;
  }
  if (run) socket.emit("lab_unsubscribe", { id: run.id });
  showRun({ id: body.id, lab: current.name, status: "running", events: [], output: [], result: {},
    started_at: Date.now() / 1000, params });
  subscribe();
});

$("stop-button").addEventListener("click", () => {
  if (run) socket.emit("lab_stop", { id: run.id });
});

function subscribe() {
  if (!run) return;
  const id = run.id;
  synced = false;
  early = [];
  socket.timeout(10000).emit("lab_subscribe", { id }, (err, answer) => {
    if (err || !run || run.id !== id) return;
    if (answer.status !== 200) { toast(answer.error || "cannot follow this run", "error"); return; }
    // the full record so far, then any batch that came first; numbers skip what we have
    run.started_at = answer.run.started_at;
    timeline.setStart(answer.run.started_at);
    synced = true;
    apply(answer.run);
    for (const batch of early) apply(batch);
    early = [];
  });
}

socket.on("lab", (batch) => {
  if (!run || batch.id !== run.id) return;
  if (!synced) { early.push(batch); return; }
  const gap = (list, have) => list && list.length > 0 && list[0].n > have;
  if (gap(batch.events, seen.events) || gap(batch.output, seen.output)) {
    subscribe(); // a gap (missed batch): take the full record again
    return;
  }
  apply(batch);
});

function apply(batch) {
  const events = (batch.events || []).filter((e) => e.n >= seen.events);
  const output = (batch.output || []).filter((l) => l.n >= seen.output);
  for (const e of events) { run.events.push(e); timeline.add(e); }
  if (events.length) seen.events = events[events.length - 1].n + 1;
  appendOutput(output);
  if (output.length) seen.output = output[output.length - 1].n + 1;
  if (batch.server_pid) {
    $("server-pid").textContent = `server PID ${batch.server_pid}`;
    timeline.setServerPid(batch.server_pid);
  }
  if (batch.status && batch.status !== "running") {
    run.status = batch.status;
    run.result = batch.result || {};
    run.error = batch.error;
    run.ended_at = batch.ended_at || Date.now() / 1000;
  }
  updateStatus();
}

function showRun(newRun) {
  run = newRun;
  seen = { events: 0, output: 0 };
  timeline.reset(run ? run.started_at : 0, run ? run.lab : "");
  $("output").replaceChildren();
  $("result-view").replaceChildren();
  $("takeaway").textContent = run ? "Running…" : "Press Run: the figures and lines below come from that run only.";
  updateStatus();
}

function updateStatus() {
  const status = $("run-status");
  const running = run && run.status === "running";
  $("run-button").disabled = !!running;
  $("stop-button").disabled = !running;
  $("timeline-empty").hidden = !!run;
  if (!run) { status.textContent = ""; status.className = "run-status"; $("run-meta").textContent = ""; return; }
  status.textContent = STATUS_WORDS[run.status] || run.status;
  status.className = `run-status badge status-${run.status}`;
  $("run-meta").textContent = `run ${run.id}`;
  $("line-count").textContent = `${$("output").children.length}`;
  $("row-count").textContent = `${timeline.rowCount()} rows`;
  timeline.setRunning(!!running);
  if (!running) {
    const takeaway = run.result && run.result.takeaway;
    $("takeaway").textContent = takeaway || endedEarly(run);
    renderResult($("result-view"), run);
  }
}

const STATUS_WORDS = { running: "running", done: "done", failed: "failed", timeout: "timed out", stopped: "stopped" };

/** What the takeaway says when a run did not get to its end. */
function endedEarly(run) {
  const after = run.ended_at && run.started_at ? ` after ${(run.ended_at - run.started_at).toFixed(1)} s` : "";
  const killed = "Its processes were killed and reaped, so this run has no figures to show.";
  if (run.status === "stopped") {
    const who = run.error === "stopped by the user" ? "Stopped by you" : `Stopped (${run.error})`;
    return `${who}${after}. ${killed} Press Run to start it again.`;
  }
  if (run.status === "timeout") {
    const limit = (run.error || "time limit reached").replace(/ reached$/, " was reached");
    return `Timed out${after}: the ${limit}. ${killed} Raise "time limit" to give it longer.`;
  }
  return `The run failed${run.error ? `: ${run.error}` : ""}.`;
}

function appendOutput(lines) {
  const box = $("output");
  const follow = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
  for (const line of lines) {
    const row = document.createElement("div");
    row.className = "out-line" + (line.writers ? " mixed" : "") + (line.stream === "stderr" ? " stderr" : "");
    const parts = [["t", `${line.t.toFixed(3)}s`], ["pid", String(line.pid)], ["ppid", String(line.ppid)],
      ["tid", String(line.tid)], ["text", line.text]];
    for (const [cls, text] of parts) {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      row.append(span);
    }
    if (line.writers) row.title = `written by PIDs ${line.writers.join(", ")}: their writes interleaved`;
    box.append(row);
  }
  if (follow) box.scrollTop = box.scrollHeight;
}

// -- connection -------------------------------------------------------------------------
socket.on("connect", () => {
  setConnection("live", "Live");
  showBanner(null);
  if (run) subscribe(); // rejoin the run's room after a reconnect
});
socket.on("disconnect", () => {
  setConnection("reconnecting", "Reconnecting…");
  showBanner("Lost the connection to the server — reconnecting automatically…", "bad");
});
socket.on("connect_error", () => setConnection("offline", "Offline"));

loadLabs();
