// A parameter form built from the server's param specs (GET /api/labs, GET /api/tasks: type,
// default, limits, choices): the Labs page and the dashboard's Spawn form.
// Each number field shows its limits under it, and a value outside them is named there.

export const limitsText = (spec) => {
  if (spec.min === undefined && spec.max === undefined) return "";
  const unit = spec.unit ? ` ${spec.unit}` : "";
  if (spec.max === undefined) return `≥ ${spec.min}${unit}`;
  if (spec.min === undefined) return `≤ ${spec.max}${unit}`;
  return `${spec.min}–${spec.max}${unit}`;
};

export function buildForm(box, params) {
  box.replaceChildren();
  for (const [name, spec] of Object.entries(params)) {
    const label = document.createElement("label");
    label.className = "field";
    label.title = spec.help || "";
    let input;
    if (spec.choices) {
      input = document.createElement("select");
      for (const choice of spec.choices) {
        const option = document.createElement("option");
        option.value = option.textContent = String(choice);
        input.append(option);
      }
      input.value = String(spec.default);
    } else if (spec.type === "bool") {
      label.classList.add("check");
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = spec.default;
    } else if (spec.type === "str") {
      input = document.createElement("input");
      input.type = "text";
      input.value = spec.default;
      input.required = true;
    } else {
      input = document.createElement("input");
      input.type = "number";
      if (spec.min !== undefined) input.min = spec.min;
      if (spec.max !== undefined) input.max = spec.max;
      input.step = spec.type === "int" ? "1" : "any";
      input.value = spec.default;
      input.required = true;
      // wide enough for the largest allowed value, plus the spinner
      const digits = Math.max(String(spec.max ?? "").length, String(spec.default).length, 3);
      input.style.width = `calc(${digits}ch + 34px)`;
    }
    input.name = name;
    input.id = `param-${name}`;
    if (spec.type === "bool") label.append(input, name.replace(/_/g, " "));
    else label.append(name.replace(/_/g, " "), input);
    if (spec.type !== "bool") {
      // every field gets the line, so that the inputs of a row stay level
      const note = document.createElement("span");
      note.className = "field-note";
      note.id = `limits-${name}`;
      note.textContent = spec.choices ? "" : limitsText(spec);
      if (note.textContent) input.setAttribute("aria-describedby", note.id);
      label.append(note);
    }
    box.append(label);
  }
}

/** Read the form into typed params; throw an Error naming a field that is not a number or out of range. */
export function readForm(box, params) {
  const out = {};
  const problems = [];
  for (const [name, spec] of Object.entries(params)) {
    const input = box.querySelector(`[name="${name}"]`);
    const field = input.closest(".field");
    field.classList.remove("invalid");
    if (spec.choices || spec.type === "str") { out[name] = input.value; continue; }
    if (spec.type === "bool") { out[name] = input.checked; continue; }
    const value = Number(input.value);
    let problem = "";
    if (input.value === "" || !Number.isFinite(value)) problem = "must be a number";
    else if (spec.type === "int" && !Number.isInteger(value)) problem = "must be a whole number";
    else if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
      problem = `must be ${limitsText(spec)}`;
    }
    if (problem) {
      field.classList.add("invalid");
      problems.push(`'${name}' ${problem}`);
    }
    out[name] = value;
  }
  if (problems.length) throw new Error(problems.join("; "));
  return out;
}
