// The API explorer: lists the operations of /api/openapi.json and sends requests to them
// with the token typed above (kept for this tab only).

const tokenInput = document.getElementById("token");
tokenInput.value = sessionStorage.getItem("podwise-token") ?? "";
tokenInput.addEventListener("input", () =>
  sessionStorage.setItem("podwise-token", tokenInput.value.trim()));

const element = (tag, attributes = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
};

// A JSON value that fits a schema, as a starting point for the body.
function example(schema, components, depth = 0) {
  if (!schema || depth > 6) return null;
  if (schema.$ref) return example(components[schema.$ref.split("/").pop()], components, depth + 1);
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== "null") : schema.type;
  if (schema.oneOf) return example(schema.oneOf[0], components, depth + 1);
  switch (type) {
    case "object": {
      const value = {};
      for (const [name, property] of Object.entries(schema.properties ?? {})) {
        if ((schema.required ?? []).includes(name) || depth === 0) {
          value[name] = example(property, components, depth + 1);
        }
      }
      return value;
    }
    case "array": return [example(schema.items, components, depth + 1)];
    case "integer": case "number": return 0;
    case "boolean": return false;
    case "string": return "";
    default: return null;
  }
}

function operationForm(method, path, operation, components) {
  const form = element("form");
  const inputs = [];
  for (const parameter of operation.parameters ?? []) {
    const input = element("input", { type: "text", name: parameter.name });
    inputs.push([parameter, input]);
    form.append(element("label", {}, `${parameter.name} (${parameter.in}` +
      `${parameter.required ? ", required" : ""})`, input));
  }
  const content = operation.requestBody?.content ?? {};
  let body = null;
  if (content["application/json"]) {
    const schema = content["application/json"].schema;
    body = element("textarea", { name: "body", spellcheck: "false" });
    body.value = JSON.stringify(example(schema, components), null, 2);
    form.append(element("label", {}, "JSON body", body));
  } else if (content["multipart/form-data"]) {
    form.append(element("p", {}, "A multipart upload: ",
      operation.requestBody.description ?? "", ". Send it with curl -F."));
  }
  const send = element("button", { type: "submit" }, `Send ${method.toUpperCase()}`);
  const result = element("div");
  form.append(send, result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let url = path;
    const query = new URLSearchParams();
    for (const [parameter, input] of inputs) {
      const value = input.value.trim();
      if (parameter.in === "path") url = url.replace(`{${parameter.name}}`, encodeURIComponent(value));
      else if (value !== "") query.set(parameter.name, value);
    }
    if ([...query].length) url += `?${query}`;
    const headers = {};
    const token = tokenInput.value.trim();
    if (token) headers.authorization = `Bearer ${token}`;
    const init = { method: method.toUpperCase(), headers };
    if (body) { headers["content-type"] = "application/json"; init.body = body.value; }
    result.replaceChildren(element("p", {}, "Waiting…"));
    try {
      const response = await fetch(url, init);
      const type = response.headers.get("content-type") ?? "";
      const status = element("p", { class: "status" }, `${response.status} ${response.statusText}` +
        ` · request id ${response.headers.get("x-request-id") ?? "none"}`);
      let shown;
      if (type.startsWith("audio/")) {
        shown = element("audio", { controls: "", src: URL.createObjectURL(await response.blob()) });
      } else {
        const text = await response.text();
        let pretty = text;
        try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch { /* not JSON */ }
        shown = element("pre", {}, pretty);
      }
      result.replaceChildren(status, shown);
    } catch (error) {
      result.replaceChildren(element("p", { class: "status" }, `The request failed: ${error}`));
    }
  });
  return form;
}

async function show() {
  const target = document.getElementById("operations");
  let document_;
  try {
    const response = await fetch("/api/openapi.json");
    document_ = await response.json();
  } catch (error) {
    target.replaceChildren(element("p", {}, `Cannot read the API document: ${error}`));
    return;
  }
  const components = document_.components?.schemas ?? {};
  const byTag = new Map();
  for (const [path, item] of Object.entries(document_.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const tag = operation.tags?.[0] ?? "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([method, path, operation]);
    }
  }
  const sections = [];
  for (const [tag, operations] of byTag) {
    sections.push(element("h2", {}, tag));
    for (const [method, path, operation] of operations) {
      const access = operation.security
        ? element("span", { class: "access" },
          operation.security.map((s) => Object.keys(s)[0] ?? "anyone").join(" or "))
        : "";
      const details = element("details", {}, element("summary", {},
        element("span", { class: "method" }, method.toUpperCase()),
        element("span", { class: "path" }, path), " — ", operation.summary ?? "", access));
      details.addEventListener("toggle", () => {
        if (details.open && details.children.length === 1) {
          details.append(operationForm(method, path, operation, components));
        }
      }, { once: false });
      sections.push(details);
    }
  }
  target.replaceChildren(...sections);
}

show();
