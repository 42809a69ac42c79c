import type { JudgeReport } from '../judge/types.js';
import { xml } from './checkJunit.js';
import { failureLines, figureCells } from './judgeText.js';

const FIGURE_NAMES = ['retries', 'delays (s)', 'requests inside a 429 wait', 'Last-Event-ID sent', 'fresh tokens', 'gave up after', 'worst requests/s'];

/** `judge --junit FILE`: a testcase per case, so a frontend's CI shows which situation its client got wrong. */
export function renderJudgeJunit(report: JudgeReport): string {
  const failures = report.cases.filter((result) => result.verdict !== 'pass').length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const cases = report.cases.map((result) => {
    const open = `    <testcase name="${xml(result.name)}" classname="sse-doctor.judge" time="${seconds(result.durationMs)}">`;
    const figures = figureCells(result.figures).map((cell, index) => `${FIGURE_NAMES[index]}: ${cell}`);
    const page = result.page ? ['', 'browser console errors:', ...result.page.consoleErrors, '', 'page network log:', ...result.page.network] : [];
    if (result.verdict === 'pass') return `${open}\n      <system-out>${xml([...figures, ...page].join('\n'))}</system-out>\n    </testcase>`;
    const body = [...failureLines(result), '', `what to do: ${result.advice}`, '', ...figures, ...page].join('\n');
    const message = result.verdict === 'not-run' ? 'not run' : result.checks.filter((check) => !check.pass).map((check) => check.name).join('; ');
    return `${open}\n      <failure message="${xml(message)}" type="${result.verdict}">${xml(body)}</failure>\n    </testcase>`;
  });
  // An interrupted run is a JUnit error of its own, so a CI gate never reads it as a pass.
  const interrupted = report.interrupted ? ['    <testcase name="run" classname="sse-doctor.judge" time="0">\n      <error message="interrupted (Ctrl-C): the report covers only what ran" type="interrupted"/>\n    </testcase>'] : [];
  const tests = report.cases.length + interrupted.length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="sse-doctor" tests="${tests}" failures="${failures}" errors="${interrupted.length}" time="${seconds(report.durationMs)}">`,
    `  <testsuite name="sse-doctor judge" tests="${tests}" failures="${failures}" errors="${interrupted.length}" skipped="0" time="${seconds(report.durationMs)}">`,
    `    <properties><property name="url" value="${xml(report.url)}"/><property name="time-scale" value="${report.timeScale}"/></properties>`,
    ...interrupted,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
