// The spawn form (count, task, the task's params) and the bulk buttons.

const $ = (id) => document.getElementById(id);

function paramInput(name, spec) {
  const label = document.createElement("label");
  label.className = spec.type === "bool" ? "field check" : "field";
  const input = document.createElement(spec.choices ? "select" : "input");
  input.name = name;
  input.dataset.kind = spec.type;
  if (spec.choices) {
    for (const choice of spec.choices) input.append(new Option(choice, choice, false, choice === spec.default));
  } else if (spec.type === "bool") {
    input.type = "checkbox";
    input.checked = spec.default;
  } else if (spec.type === "str") {
    input.type = "text";
    input.value = spec.default;
  } else {
    input.type = "number";
    input.value = spec.default;
    input.step = spec.type === "int" ? "1" : "any";
    if ("min" in spec) input.min = spec.min;
    if ("max" in spec) input.max = spec.max;
  }
  label.title = spec.help || "";
  const text = spec.unit ? `${name} (${spec.unit})` : name;
  if (spec.type === "bool") label.append(input, document.createTextNode(text));
  else label.append(document.createTextNode(text), input);
  return label;
}

function readParams(box) {
  const params = {};
  for (const input of box.querySelectorAll("[name]")) {
    const kind = input.dataset.kind;
    if (kind === "bool") params[input.name] = input.checked;
    else if (kind === "int") params[input.name] = parseInt(input.value, 10);
    else if (kind === "float") params[input.name] = parseFloat(input.value);
    else params[input.name] = input.value;
  }
  return params;
}

export async function initControls({ command, maxWorkers }) {
  const form = $("spawn-form");
  const select = $("spawn-task");
  const paramsBox = $("spawn-params");
  let tasks = [];
  try {
    tasks = await (await fetch("/api/tasks")).json();
  } catch {
    tasks = [];
  }
  if (tasks.length) {
    select.replaceChildren(...tasks.map((t) => new Option(t.name, t.name)));
    select.value = "append_pid";
  }
  const showParams = () => {
    const task = tasks.find((t) => t.name === select.value);
    paramsBox.replaceChildren(...Object.entries(task ? task.params : {}).map(([n, s]) => paramInput(n, s)));
    $("task-help").textContent = task ? task.help : "";
  };
  select.addEventListener("change", showParams);
  showParams();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const count = parseInt($("spawn-count").value, 10);
    const limit = maxWorkers();
    if (limit) $("spawn-count").max = limit;
    const button = $("spawn-button");
    button.disabled = true;
    try {
      await command("spawn", { count, task: select.value, params: readParams(paramsBox) });
    } finally {
      button.disabled = false;
    }
  });
  $("kill-all").addEventListener("click", () => command("kill_all", { signal: "TERM" }));
  $("clear-ended").addEventListener("click", () => command("clear", {}));
  $("reset-state").addEventListener("click", () => command("reset", {}));
}
