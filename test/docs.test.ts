import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RULES } from '../src/check/rules/index.js';
import { buildProgram } from '../src/cli/commands.js';
import { quietContext } from './helpers/argv.js';

// What the docs promise a user: every rule documented, every link and example true, every cited file shipped.
const ROOT = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const DOCS = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

describe('docs/contract.md', () => {
  const contract = read('docs/contract.md');
  it('documents every check rule by id, and no rule that does not exist', () => {
    const documented = [...contract.matchAll(/\[((?:token|stream)\.[a-z0-9-]+)\]/g)].map((match) => match[1]);
    expect(new Set(documented)).toEqual(new Set(RULES.map((rule) => rule.id)));
  });
});

describe('links and examples', () => {
  const links = DOCS.flatMap((doc) =>
    [...read(doc).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z]+:/.test(target)).map((target) => ({ doc, file: normalize(join(dirname(doc), target)) })),
  );

  it('every relative link points at a file that exists', () => {
    expect(links.length).toBeGreaterThan(3);
    for (const { doc, file } of links) expect(existsSync(join(ROOT, file)), `${doc} -> ${file}`).toBe(true);
  });

  it('npm pack ships every file the docs link to', () => {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: ROOT, encoding: 'utf8' })) as [{ files: { path: string }[] }];
    const shipped = packed.files.map((file) => file.path);
    for (const { doc, file } of links) {
      const target = file.replace(/\/$/, '');
      expect(shipped.some((path) => path === target || path.startsWith(`${target}/`)), `${doc} -> ${file}`).toBe(true);
    }
  });

  it('every flag in a README example exists on its command', () => {
    const program = buildProgram('0.0.0', quietContext(), async () => {});
    const flagsOf = (name: string) => {
      const command = program.commands.find((candidate) => candidate.name() === name);
      if (command === undefined) throw new Error(`README names an unknown command: sse-doctor ${name}`);
      return new Set([...command.options, ...program.options].map((option) => option.long));
    };
    const examples = read('README.md')
      .split('\n')
      .flatMap((line) => [...line.matchAll(/sse-doctor ([a-z]+)((?: [^#`]*)?)/g)])
      .map((match) => ({ command: match[1]!, rest: match[2] ?? '' }));
    expect(examples.length).toBeGreaterThan(20);
    for (const { command, rest } of examples) {
      const known = flagsOf(command);
      for (const flag of rest.match(/--[a-z][a-z-]*/g) ?? []) expect(known.has(flag), `sse-doctor ${command} ${flag}`).toBe(true);
    }
  });
});
