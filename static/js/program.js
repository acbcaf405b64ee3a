// `mpscope run`: the program panel (command line, state, Stop, Run again) and the Pool
// task timeline, drawn by the Labs' Timeline renderer: one row per worker process.
// The page (app.js) starts it with what it needs; nothing here reaches back into the page.

import { Timeline } from "./labs-timeline.js";
import { formatDuration } from "./format.js";
import { pageNow } from "./clock.js";

const $ = (id) => document.getElementById(id);
const quote = (arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`);

/**
 * Start the program panel and the Pool timeline.
 * @param {{command: (event: string, body: object) => Promise<object>, socket: object,
 *   onSnapshot: (hook: (snap: object) => void) => void,
 *   markRun?: (startedAt: number, text: string) => void,
 *   endedAt?: (pid: number) => number | null}} page the page's socket, its command sender, a
 *   registration for each snapshot it receives, where to mark in the output that a new run
 *   started (Run again), and when a process ended (a lost task ends with its worker)
 */
export function startProgramPanel({ command, socket, onSnapshot, markRun = () => {}, endedAt = () => null }) {
  // -- the program panel -----------------------------------------------------------
  let program = null;
  const tasks = new Map(); // Pool task id -> task
  const timeline = new Timeline($("pool-timeline"), { fitLabel: poolRowLabel });
  let timelineFrame = null;

  function renderProgram() {
    if (!program) return;
    const p = program;
    $("program-argv").textContent = `python ${p.argv.map(quote).join(" ")}`;
    $("program-argv").title = `${p.python} ${p.argv.join(" ")}`;
    $("program-state").textContent = p.state;
    $("program-state").className = `badge state-${p.state}`;
    $("program-exit").textContent = p.signal ? `killed by ${p.signal}` : p.exitcode !== null ? `exit code ${p.exitcode}` : "";
    $("program-exit").className = `program-exit ${p.signal || p.exitcode ? "exit-bad" : ""}`;
    $("program-pid").textContent = `PID ${p.pid ?? "—"}`;
    $("program-cwd").textContent = p.cwd;
    const end = p.ended_at ?? pageNow();
    $("program-times").textContent = p.started_at ? `ran ${formatDuration(end - p.started_at)}` : "";
    const running = p.state === "running";
    if ($("program-stop")) {
      $("program-stop").disabled = !running;
      $("program-start").disabled = running;
    }
  }

  function markStart(info) {
    if (!info?.started_at) return;
    const at = new Date(info.started_at * 1000).toLocaleTimeString();
    markRun(info.started_at, `Run again at ${at}: the program's new run starts here (the lines above are from the last run)`);
  }

  function setProgram(info) {
    const restarted = program && info && program.started_at !== info.started_at;
    program = info;
    if (restarted) { tasks.clear(); markStart(info); }
    renderProgram();
    scheduleTimeline();
  }

  onSnapshot((snap) => {
    program = null;
    setProgram(snap.program);
    markStart(snap.program); // the output kept from a last run, if any, is above this one's
    tasks.clear();
    addTasks(snap.pool_tasks || []);
  });
  socket.on("program", setProgram);
  setInterval(() => { if (program && program.state === "running") renderProgram(); }, 1000);

  if ($("program-stop")) {
    $("program-stop").addEventListener("click", () => command("program_stop", {}));
    $("program-start").addEventListener("click", () => command("program_start", {}));
    $("kill-all").addEventListener("click", () => command("kill_all", { signal: "TERM" }));
    $("clear-ended").addEventListener("click", () => command("clear", {}));
  }

  // -- pool tasks --------------------------------------------------------------------
  function addTasks(list) {
    for (const task of list) tasks.set(task.id, task);
    scheduleTimeline();
  }
  socket.on("pool_tasks", (msg) => addTasks(msg.tasks));
  socket.on("workers", () => {
    if ([...tasks.values()].some((t) => t.state === "lost" || t.state === "cancelled")) scheduleTimeline();
  });

  function scheduleTimeline() {
    if (timelineFrame) return;
    timelineFrame = requestAnimationFrame(() => { timelineFrame = null; drawTimeline(); });
  }

  /** Rebuild the timeline from the task table: a bar per task on its worker's row, callbacks on the parent's. */
  function drawTimeline() {
    const list = [...tasks.values()];
    const times = list.flatMap((t) => [t.queued_at, t.started_at]).filter((t) => t !== null);
    const t0 = program?.started_at ?? (times.length ? Math.min(...times) : pageNow());
    timeline.reset(t0);
    timeline.setStart(t0);
    const events = [];
    for (const t of list) {
      if (t.started_at !== null) {
        const lost = t.state === "lost"; // its worker died while running it: it ends with the worker
        const cut = lost || t.state === "cancelled"; // (cancelled: its pool was terminated meanwhile)
        const label = `${t.items > 1 ? `${t.func} ×${t.items}` : t.func}${lost ? " (lost)" : cut ? " (cancelled)" : ""}`;
        // the tooltip names the call: f(1), or f(0) and 3 more calls for a map() chunk of 4
        const call = t.args == null ? null : `${t.func}(${t.args})${t.items > 1 ? ` and ${t.items - 1} more call${t.items > 2 ? "s" : ""}` : ""}`;
        const tip = call && `${call}${lost ? " (lost)" : cut ? " (cancelled)" : ""}`;
        events.push({ kind: "state", pid: t.pid, tid: 0, state: t.state === "failed" || lost ? "blocked" : "running",
          label, tip, t: t.started_at - t0, rowLabel: t.pool });
        const end = t.ended_at ?? (cut ? endedAt(t.pid) : null);
        if (end != null) events.push({ kind: "end", pid: t.pid, tid: 0, t: Math.max(end, t.started_at) - t0 });
      }
      if (t.callback) {
        const cb = t.callback;
        // one row per process that ran callbacks; which thread ran each is in the bar's tooltip
        events.push({ kind: "state", pid: cb.pid, tid: 0, state: "waiting_lock", t: cb.at - t0,
          label: `${cb.error_callback ? "error_callback" : "callback"} of ${t.func} in thread ${cb.thread}`,
          rowLabel: "callbacks" });
        events.push({ kind: "end", pid: cb.pid, tid: 0, t: cb.at - t0 + 0.002 });
      }
    }
    events.sort((a, b) => a.t - b.t);
    for (const e of events) {
      if (e.kind === "state") timeline.row(e.pid, e.tid, e.rowLabel);
      timeline.add(e);
    }
    const running = list.some((t) => t.state === "running");
    timeline.setRunning(running || program?.state === "running");
    renderCounts(list);
    renderFailures(list);
  }

  function renderCounts(list) {
    const count = (state) => list.filter((t) => t.state === state).length;
    $("pool-counts").textContent = list.length
      ? `${count("queued")} queued · ${count("running")} running · ${count("done")} done · ${count("failed")} failed${
        count("lost") ? ` · ${count("lost")} lost` : ""}`
      : "";
    $("pool-empty").hidden = list.length > 0;
    $("pool-timeline").hidden = list.length === 0; // no empty axis: the note says what will fill it
  }

  function renderFailures(list) {
    const failed = list.filter((t) => t.state === "failed");
    const box = $("pool-failures");
    if (box.childElementCount === failed.length) return;
    box.replaceChildren(...failed.map((t) => {
      const details = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = `${t.func} failed in PID ${t.pid} (${t.pool})`;
      const pre = document.createElement("pre");
      pre.textContent = t.error || "";
      details.append(summary, pre);
      return details;
    }));
  }
}

/** A Pool row's label within `fits` characters: the line that made the Pool is never cut,
 * the file name is, in its middle ("PID 412 · Pool-1 (c_pool_s…ck.py:12)"), or left out on
 * a phone ("412 · Pool-1:12"). */
export function poolRowLabel(text, fits) {
  if (text.length <= fits) return text;
  const m = /^(PID (\d+) · )?(.*) \((.+):(\d+)\)$/.exec(text);
  if (!m) return `${text.slice(0, fits - 1)}…`;
  const [, who = "", pid, pool, file, line] = m;
  const room = fits - `${who}${pool} (:${line})`.length - 1;
  if (room >= 6) {
    const front = Math.ceil(room / 2);
    return `${who}${pool} (${file.slice(0, front)}…${file.slice(file.length - (room - front))}:${line})`;
  }
  for (const short of [`${who}${pool}:${line}`, `${pid ? `${pid} · ` : ""}${pool}:${line}`]) {
    if (short.length <= fits) return short;
  }
  return `${text.slice(0, fits - 1)}…`;
}
