// The parameter form of a lab, built from GET /api/labs (types, defaults and limits).

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
    } else {
      input = document.createElement("input");
      input.type = "number";
      if (spec.min !== undefined) input.min = spec.min;
      if (spec.max !== undefined) input.max = spec.max;
      input.step = spec.type === "int" ? "1" : "any";
      input.value = spec.default;
      input.required = true;
    }
    input.name = name;
    input.id = `param-${name}`;
    label.append(name.replace(/_/g, " "), input);
    box.append(label);
  }
}

/** Read the form into typed params; throw an Error naming a field that is not a number. */
export function readForm(box, params) {
  const out = {};
  for (const [name, spec] of Object.entries(params)) {
    const input = box.querySelector(`[name="${name}"]`);
    if (spec.choices) out[name] = input.value;
    else if (spec.type === "bool") out[name] = input.checked;
    else {
      const value = Number(input.value);
      if (input.value === "" || !Number.isFinite(value)) throw new Error(`'${name}' must be a number`);
      out[name] = value;
    }
  }
  return out;
}
