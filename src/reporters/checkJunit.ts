import type { CheckReport } from '../check/types.js';
import { formatEvidence } from './checkEvidence.js';
import { groupOf } from './checkTable.js';

/**
 * JUnit XML as CI systems read it: one testsuite, a testcase per rule (classname = the
 * endpoint group), `<failure>` for failures (and warnings under `--strict`), `<skipped>` for skips.
 */
export function renderCheckJunit(report: CheckReport): string {
  const { summary } = report;
  const failsRun = (status: string) => status === 'fail' || (summary.strict && status === 'warn');
  const failures = report.results.filter((result) => failsRun(result.status)).length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const cases = report.results.map((result) => {
    const open = `    <testcase name="${xml(result.id)}" classname="${groupOf(result)}" time="${seconds(result.durationMs)}">`;
    const evidence = formatEvidence(result.evidence).join('\n');
    const where = result.layer === undefined ? '' : `\n\nlayer: ${result.layer}${result.fix === undefined ? '' : `\nfix (${result.layer}): ${result.fix}`}`;
    const body = `${result.message}${where}${evidence ? `\n\nevidence:\n${evidence}` : ''}`;
    if (failsRun(result.status)) {
      return `${open}\n      <failure message="${xml(result.title)}" type="${result.severity}">${xml(body)}</failure>\n    </testcase>`;
    }
    if (result.status === 'skip') return `${open}\n      <skipped message="${xml(result.message)}"/>\n    </testcase>`;
    return `${open}\n      <system-out>${xml(body)}</system-out>\n    </testcase>`;
  });
  // What kept the run from being a pass besides its rules (an interruption, a fixture, nothing exercised): a CI error, never a silent green.
  const runErrors = [...(summary.interrupted ? ['interrupted (Ctrl-C): the report covers only what ran'] : []), ...summary.problems].map(
    (message) => `    <testcase name="run" classname="sse-doctor" time="0">\n      <error message="${xml(message)}" type="${summary.interrupted ? 'interrupted' : 'blocked'}"/>\n    </testcase>`,
  );
  const tests = report.results.length + runErrors.length;
  const name = `sse-doctor check (${summary.profile})`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="sse-doctor" tests="${tests}" failures="${failures}" errors="${runErrors.length}" skipped="${summary.skipped}" time="${seconds(summary.durationMs)}">`,
    `  <testsuite name="${xml(name)}" tests="${tests}" failures="${failures}" errors="${runErrors.length}" skipped="${summary.skipped}" time="${seconds(summary.durationMs)}">`,
    `    <properties><property name="target" value="${xml(summary.target)}"/></properties>`,
    ...runErrors,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** Escapes text for XML attributes and content, dropping characters XML 1.0 cannot carry. */
export function xml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}
