// The figures of a finished run, one small view per lab. Every value is set as text.

import { describe, toText } from "./format.js";

function h(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function table(headers, rows) {
  const t = h("table", "result-table");
  const head = h("tr");
  for (const name of headers) head.append(h("th", "", name));
  t.append(head);
  for (const row of rows) {
    const tr = h("tr");
    for (const cell of row) tr.append(cell instanceof Node ? h("td").appendChild(cell).parentNode : h("td", "", String(cell)));
    t.append(tr);
  }
  return t;
}

function fact(label, value, cls = "") {
  const box = h("div", `fact ${cls}`);
  box.append(h("span", "fact-label", label), h("span", "fact-value", String(value)));
  return box;
}

const fmt = (s) => `${Number(s).toFixed(2)} s`;

const views = {
  process(r, run) {
    const p = run.params;
    return [fact("wall time", fmt(r.wall)), fact("N × s (if one after another)", fmt(p.processes * p.seconds)),
      fact("started", r.start_order.join(" ")), fact("printed", r.finish_order.join(" "))];
  },
  threads(r) {
    return [table(["PID", "main thread ident", "new thread ident"], r.pairs.map((x) => [x.pid, x.main_tid, x.thread_tid]))];
  },
  parent(r) {
    const byParent = new Map();
    for (const node of r.tree) {
      if (!byParent.has(node.ppid)) byParent.set(node.ppid, []);
      byParent.get(node.ppid).push(node);
    }
    const pids = new Set(r.tree.map((n) => n.pid));
    const roots = r.tree.filter((n) => !pids.has(n.ppid));
    const list = (nodes) => {
      const ul = h("ul", "tree");
      for (const node of nodes) {
        const li = h("li");
        li.append(h("span", "tree-pid", `PID ${node.pid}`), h("span", "tree-label", ` ${node.label} (parent ${node.ppid})`));
        if (byParent.has(node.pid)) li.append(list(byParent.get(node.pid)));
        ul.append(li);
      }
      return ul;
    };
    return [fact("start method", r.start_method), list(roots)];
  },
  queues(r) {
    return [fact("queue.Queue → p.start()", r.thread_queue_error, "bad"),
      fact("reader got", toText(r.reader_got)), fact("writer's list after the change", toText(r.writer_after_change))];
  },
  pipe(r) {
    return [fact(`recv #${r.blocked_recv}`, r.blocked ? `blocked for ${fmt(r.blocked_for)}, then ended by the timeout` : "did not block", r.blocked ? "bad" : ""),
      fact("last state of the reader", r.blocked_on.join(", ") || "—"), fact("one-way pipe, reader_end.send()", r.one_way_error || "no error")];
  },
  manager(r) {
    const dict = h("div", "shared");
    dict.append(h("h3", "", "d"));
    for (const [k, v] of r.dict) {
      const row = h("div", "vrow-static");
      const key = describe(k), val = describe(v);
      row.append(h("span", `key ${key.cls}`, key.text), h("span", "arrow", ":"), h("span", `val ${val.cls}`, val.text));
      dict.append(row);
    }
    const list = h("div", "shared");
    list.append(h("h3", "", "l"));
    r.list.forEach((v, i) => {
      const row = h("div", "vrow-static");
      const val = describe(v);
      row.append(h("span", "idx", `[${i}]`), h("span", `val ${val.cls}`, val.text));
      list.append(row);
    });
    const state = h("div", "shared-pair");
    state.append(dict, list);
    const races = table(["Lock", "counter", "expected", "lost updates"],
      r.races.map((x) => [x.lock ? "yes" : "no", x.got, x.expected, x.expected - x.got]));
    return [state, races];
  },
  lock(r) {
    return [table(["Lock", "lines", "mixed lines"], r.phases.map((x) => [x.lock ? "yes" : "no", x.lines, x.mixed]))];
  },
  pool(r, run) {
    const ok = r.callback_pids.length === 1 && r.callback_pids[0] === r.server_pid;
    return [
      table(["call", "tasks", "overlapping pairs", "wall"], Object.entries(r.phases).map(([name, x]) =>
        [`pool.${name}`, x.tasks.length, x.overlaps, fmt(x.wall)])),
      fact("callback ran in PID", `${r.callback_pids.join(", ")} (server ${r.server_pid})`, ok ? "good" : "bad"),
      fact("join() before close()", r.join_error || "no error", "bad"),
      fact("close() without join()", `${r.forgot_join.done} of ${r.forgot_join.submitted} tasks finished`),
      fact("pool size", run.params.size),
    ];
  },
  gil(r) {
    const chart = h("div", "bars");
    const max = Math.max(...r.bars.map((b) => b.wall));
    for (const bar of r.bars) {
      const row = h("div", `bar-row ${bar.name.startsWith("CPU") ? "cpu" : "io"}`);
      const track = h("div", "bar-track");
      const fill = h("div", "bar-fill");
      fill.style.width = `${(100 * bar.wall) / max}%`;
      track.append(fill);
      row.append(h("span", "bar-name", bar.name), track,
        h("span", "bar-value", `${bar.wall.toFixed(3)} s · ${bar.speedup.toFixed(2)}×`
          + (bar.cpus_busy ? ` · ${bar.cpus_busy.toFixed(2)} CPUs busy` : "")));
      chart.append(row);
    }
    return [fact("os.cpu_count()", r.cpu_count), fact("len(os.sched_getaffinity(0))", r.usable_cpus), chart];
  },
};

export function renderResult(box, run) {
  box.replaceChildren();
  const view = views[run.lab];
  if (run.status !== "done" || !view) return;
  try {
    box.append(...view(run.result, run));
  } catch (err) {
    box.append(h("p", "empty", `cannot show this result: ${err.message}`));
  }
}
