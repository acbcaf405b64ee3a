// The spawn form (count, task, the task's params) and the bulk buttons.

import { buildForm, limitsText, readForm } from "./params-form.js";
import { api } from "./session.js";

const $ = (id) => document.getElementById(id);

const countSpec = (limit) => ({ type: "int", min: 1, max: limit || 32 });

/** Show the count's limits once the server's are known (from its snapshot). */
export function showCountLimit(limit) {
  const note = $("limits-count");
  if (note) note.textContent = limitsText(countSpec(limit));
  if ($("spawn-count")) $("spawn-count").max = limit;
}

export async function initControls({ command, maxWorkers }) {
  const form = $("spawn-form");
  const select = $("spawn-task");
  const paramsBox = $("spawn-params");
  let tasks = [];
  try {
    tasks = await (await api("/api/tasks")).json();
  } catch {
    tasks = [];
  }
  if (tasks.length) {
    select.replaceChildren(...tasks.map((t) => new Option(t.name, t.name)));
    select.value = "append_pid";
  }
  const current = () => tasks.find((t) => t.name === select.value);
  const showParams = () => {
    const task = current();
    buildForm(paramsBox, task ? task.params : {});
    $("task-help").textContent = task ? task.help : "";
    $("spawn-error").hidden = true;
  };
  select.addEventListener("change", showParams);
  showParams();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = $("spawn-error");
    error.hidden = true;
    let count, params;
    try {
      // the count is checked like a param: 1 to the server's limit, named by its field
      count = readForm(form, { count: countSpec(maxWorkers()) }).count;
      params = readForm(paramsBox, current() ? current().params : {});
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
      return;
    }
    const button = $("spawn-button");
    button.disabled = true;
    try {
      await command("spawn", { count, task: select.value, params });
    } finally {
      button.disabled = false;
    }
  });
  $("kill-all").addEventListener("click", () => command("kill_all", { signal: "TERM" }));
  $("clear-ended").addEventListener("click", () => command("clear", {}));
  $("reset-state").addEventListener("click", () => command("reset", {}));
}
