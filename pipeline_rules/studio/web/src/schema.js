// Completion and hover from the ruleset's JSON Schema: where the cursor is in the YAML (by
// indentation, which is how block YAML nests), which schema node that is, and what it allows.

const KEY_LINE = /^(\s*)((?:-\s+)*)([A-Za-z_][\w-]*)\s*:(.*)$/;
const DASH_ONLY = /^(\s*)-\s*$/;

function lineShape(text) {
  // The columns of a line's list dash and key, and whether the key opens a nested block.
  const m = KEY_LINE.exec(text);
  if (m) {
    const dash = m[2] ? m[1].length : -1;
    const rest = m[4].replace(/#.*$/, "").trim();
    return { dash, key: m[3], keyCol: m[1].length + m[2].length, opens: rest === "" || rest === "|" || rest === ">" };
  }
  const d = DASH_ONLY.exec(text);
  if (d) return { dash: d[1].length, key: null, keyCol: d[1].length + 2, opens: true };
  return null;
}

// The path (keys, and "[]" for list items) of the block that holds a key written at column
// `indent` on line `lineNo` (1-based), found by walking up to less indented lines.
export function ancestors(doc, lineNo, indent) {
  const path = [];
  let limit = indent;
  for (let n = lineNo - 1; n >= 1 && limit > 0; n--) {
    const text = doc.line(n).text;
    if (!text.trim() || text.trim().startsWith("#")) continue;
    const shape = lineShape(text);
    if (!shape) continue;
    if (shape.key !== null && shape.keyCol < limit && shape.opens) {
      path.push(shape.key);
      limit = shape.keyCol;
    }
    if (shape.dash >= 0 && shape.dash < limit) {
      path.push("[]");
      limit = shape.dash;
    }
  }
  return path.reverse();
}

function deref(node, root) {
  let current = node;
  for (let i = 0; i < 20 && current && current.$ref; i++) {
    const name = current.$ref.replace("#/$defs/", "");
    current = { ...root.$defs[name], ...current, $ref: undefined };
  }
  return current || {};
}

// Every branch of a node (allOf, anyOf, oneOf, and the node itself), each dereferenced.
function branches(node, root, depth = 0) {
  const here = deref(node, root);
  const found = [here];
  if (depth > 6) return found;
  for (const key of ["allOf", "anyOf", "oneOf"]) {
    for (const part of here[key] || []) found.push(...branches(part, root, depth + 1));
  }
  return found;
}

export function nodeAt(root, path) {
  let nodes = [root];
  for (const segment of path) {
    const next = [];
    for (const node of nodes) {
      for (const b of branches(node, root)) {
        if (segment === "[]") {
          if (b.items && typeof b.items === "object") next.push(b.items);
        } else if (b.properties && b.properties[segment]) {
          next.push(b.properties[segment]);
        } else if (b.additionalProperties && typeof b.additionalProperties === "object") {
          next.push(b.additionalProperties);
        }
      }
    }
    if (!next.length) return [];
    nodes = next;
  }
  return nodes;
}

export function propertiesOf(root, nodes) {
  const found = new Map();
  for (const node of nodes) {
    for (const b of branches(node, root)) {
      for (const [name, child] of Object.entries(b.properties || {})) {
        if (!found.has(name)) found.set(name, deref(child, root));
      }
    }
  }
  return found;
}

export function valuesOf(root, nodes) {
  const found = [];
  for (const node of nodes) {
    for (const b of branches(node, root)) {
      if (b.const !== undefined) found.push(b.const);
      for (const v of b.enum || []) found.push(v);
      if (b.type === "boolean") found.push(true, false);
    }
  }
  return [...new Set(found.filter((v) => typeof v !== "object"))];
}

export function describe(root, nodes) {
  for (const node of nodes) {
    for (const b of branches(node, root)) {
      if (b.description) {
        const examples = (b.examples || []).slice(0, 3).map((e) => JSON.stringify(e));
        return b.description + (examples.length ? `\nExamples: ${examples.join(", ")}` : "");
      }
    }
  }
  return "";
}

// Completion: keys where a key is being typed, allowed words where a value is.
export function schemaCompletion(getSchema) {
  return (context) => {
    const root = getSchema();
    if (!root) return null;
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, context.pos - line.from);
    const keyTyping = /^(\s*)((?:-\s+)*)([\w-]*)$/.exec(before);
    if (keyTyping) {
      const indent = keyTyping[1].length + keyTyping[2].length;
      const path = ancestors(context.state.doc, line.number, indent);
      if (keyTyping[2]) path.push("[]");
      const props = propertiesOf(root, nodeAt(root, path));
      if (!props.size || (!keyTyping[3] && !context.explicit)) return null;
      return {
        from: context.pos - keyTyping[3].length,
        options: [...props].map(([name, node]) => ({
          label: name, type: "property", apply: name + ": ",
          info: node.description || undefined,
        })),
        validFor: /^[\w-]*$/,
      };
    }
    const valueTyping = /^(\s*)((?:-\s+)*)([\w-]+):\s*([\w-]*)$/.exec(before);
    if (valueTyping) {
      const indent = valueTyping[1].length + valueTyping[2].length;
      const path = ancestors(context.state.doc, line.number, indent);
      if (valueTyping[2]) path.push("[]");
      path.push(valueTyping[3]);
      const values = valuesOf(root, nodeAt(root, path));
      if (!values.length) return null;
      return {
        from: context.pos - valueTyping[4].length,
        options: values.map((v) => ({ label: String(v), type: "enum" })),
        validFor: /^[\w-]*$/,
      };
    }
    return null;
  };
}

// Hover: the schema's description of the key under the pointer.
export function keyDocAt(root, doc, pos) {
  const line = doc.lineAt(pos);
  const m = KEY_LINE.exec(line.text);
  if (!m || !root) return null;
  const keyFrom = line.from + m[1].length + m[2].length;
  const keyTo = keyFrom + m[3].length;
  if (pos < keyFrom || pos > keyTo) return null;
  const path = ancestors(doc, line.number, m[1].length + m[2].length);
  if (m[2]) path.push("[]");
  path.push(m[3]);
  const text = describe(root, nodeAt(root, path));
  return text ? { from: keyFrom, to: keyTo, key: m[3], text } : null;
}
