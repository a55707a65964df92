/**
 * The flat XML of Tigo/Mixx's older gateway (`<COMMAND><TAG>value</TAG>…</COMMAND>`): built
 * with every value escaped, read without a parser (no entities beyond the five predefined,
 * no DTDs, no nesting), so a reply cannot make us expand or fetch anything.
 */

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

export function xmlEscape(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/** `<COMMAND>` with one element per field, in the given order. */
export function xmlCommand(fields: Array<[string, string]>): string {
  const body = fields.map(([tag, value]) =>
    `<${tag}>${xmlEscape(value)}</${tag}>`
  )
    .join("");
  return `<?xml version="1.0" encoding="UTF-8"?><COMMAND>${body}</COMMAND>`;
}

const UNESCAPES: Record<string, string> = {
  "&amp;": "&",
  "&lt;": "<",
  "&gt;": ">",
  "&quot;": '"',
  "&apos;": "'",
};

/**
 * The text of each simple element `<TAG>text</TAG>` (upper-cased tag names; the first
 * occurrence wins), or null when the text is not such a document. Elements holding other
 * elements are skipped.
 */
export function readXmlFields(text: string): Record<string, string> | null {
  if (!/<COMMAND[\s>]/i.test(text) || /<!DOCTYPE|<!ENTITY/i.test(text)) {
    return null;
  }
  const fields: Record<string, string> = {};
  const element = /<([A-Za-z_][A-Za-z0-9_.-]*)\s*>([^<]*)<\/\1\s*>/g;
  for (const match of text.matchAll(element)) {
    const tag = match[1].toUpperCase();
    if (tag in fields) continue;
    fields[tag] = match[2].replace(
      /&(amp|lt|gt|quot|apos);/g,
      (entity) => UNESCAPES[entity],
    ).trim();
  }
  return fields;
}
