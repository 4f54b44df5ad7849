// Parse a Mermaid file with the real mermaid parser (node + jsdom), as a code host would.
// Usage: node mermaid_parse.mjs FILE ; exit 0 when it parses, 1 with the parser's message.
import fs from 'fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
try {
  const result = await mermaid.parse(fs.readFileSync(process.argv[2], 'utf8'));
  console.log(result.diagramType);
} catch (error) {
  console.error(error.message || String(error));
  process.exit(1);
}
