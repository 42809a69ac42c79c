import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Which way imports run (docs/architecture.md, "Layers"): each folder of src/ and scenarios/ may
 * import only the folders listed for it (and `src/errors.ts`). madge (`npm run cycles`) finds
 * cycles; this finds an import in the wrong direction before it becomes one.
 */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  engine: [],
  server: [],
  browser: [],
  proxy: ['engine'],
  check: ['engine'],
  // replay/registry.ts loads the built-in scenarios lazily, by dynamic import.
  replay: ['engine', 'proxy', 'scenarios'],
  load: ['engine', 'options'],
  options: ['engine'],
  analyze: ['engine', 'load'],
  judge: ['engine', 'proxy', 'browser'],
  reporters: ['engine', 'check', 'load', 'proxy', 'replay', 'analyze', 'judge'],
  commands: ['engine', 'check', 'load', 'proxy', 'replay', 'analyze', 'judge', 'reporters', 'server', 'browser'],
  cli: ['engine', 'options', 'load', 'replay', 'analyze', 'judge', 'server', 'commands'],
  scenarios: ['engine', 'replay'],
};

const ROOT = join(import.meta.dirname, '..');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The src/ folder (or `scenarios`) a module path lands in; undefined for src/*.ts and packages. */
function layerOf(path: string): string | undefined {
  const [top, second] = relative(ROOT, path).split('/');
  if (top === 'scenarios') return 'scenarios';
  return top === 'src' && second !== undefined && !second.endsWith('.ts') && !second.endsWith('.js') ? second : undefined;
}

describe('layers', () => {
  it('every import runs in an allowed direction', () => {
    const wrong: string[] = [];
    const files = [...filesUnder(join(ROOT, 'src')), ...filesUnder(join(ROOT, 'scenarios'))];
    for (const file of files) {
      const from = layerOf(file);
      if (from === undefined) continue;
      const allowed = MAY_IMPORT[from];
      if (allowed === undefined) {
        wrong.push(`${relative(ROOT, file)}: the folder ${from} has no row in MAY_IMPORT (add it, and to docs/architecture.md)`);
        continue;
      }
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
        const to = layerOf(join(file, '..', specifier!));
        if (to !== undefined && to !== from && !allowed.includes(to)) wrong.push(`${relative(ROOT, file)} imports ${specifier}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
