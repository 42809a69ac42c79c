import { Chalk, type ChalkInstance } from 'chalk';
import type { AnalyzeReport } from '../analyze/read.js';
import type { CheckReport, Rule } from '../check/types.js';
import type { JudgeReport } from '../judge/types.js';
import type { LoadReport } from '../load/report.js';
import type { ReplayReport, Scenario } from '../replay/scenario.js';
import { analyzeHtml } from './analyzeHtml.js';
import { analyzeTable } from './analyzeTable.js';
import { renderCheckGithub } from './checkGithub.js';
import { renderCheckJson } from './checkJson.js';
import { renderCheckJunit } from './checkJunit.js';
import { renderRuleList, renderRuleListJson } from './checkRules.js';
import { renderCheckTable, type EndpointLabels } from './checkTable.js';
import { renderJudgeHtml } from './judgeHtml.js';
import { renderJudgeJson } from './judgeJson.js';
import { renderJudgeJunit } from './judgeJunit.js';
import { renderJudgeTable } from './judgeTable.js';
import { loadHtml } from './loadHtml.js';
import { loadJson } from './loadJson.js';
import { loadTable } from './loadTable.js';
import { ndjsonLine } from './ndjsonLine.js';
import { proxyPrettyLine, type ProxyLogItem } from './proxyLog.js';
import { replayJson } from './replayJson.js';
import { replayList, replayListJson } from './replayList.js';
import { replayPretty } from './replayPretty.js';
import type { TailItem } from './tailItems.js';
import { tailPrettyLine } from './tailPretty.js';
import { tokenJson, tokenPretty, type TokenReport } from './token.js';

/** Every reporter's name: what a command's flags (`--json`, `--junit`, `--html`, `--github-actions`) choose between. */
export type ReporterName = 'pretty' | 'json' | 'junit' | 'github' | 'html';

/** A reporter: a plain function from a result to a string, no I/O. `c` colours pretty output; the others ignore it. */
export type Reporter<Result> = (result: Result, c: ChalkInstance) => string;

/** A check report with the endpoint labels its table heads its groups with. */
export interface CheckOutput {
  readonly report: CheckReport;
  readonly endpoints: EndpointLabels;
}

/** One scenario's reports, printed as the scenario ends. */
export interface ScenarioOutput {
  readonly scenario: Scenario;
  readonly reports: readonly ReplayReport[];
}

/** The result each kind of report renders. */
export interface ResultKinds {
  readonly check: CheckOutput;
  readonly 'check-rules': readonly Rule[];
  readonly replay: readonly ReplayReport[];
  readonly 'replay-scenario': ScenarioOutput;
  readonly 'replay-list': readonly Scenario[];
  readonly load: LoadReport;
  readonly analyze: AnalyzeReport;
  readonly judge: JudgeReport;
  readonly token: TokenReport;
  /** One line of `tail`, with its newline (empty: an item the pretty output leaves out). */
  readonly 'tail-item': TailItem;
  /** One line of `proxy`'s log, with its newline. */
  readonly 'proxy-log': ProxyLogItem;
}

/** Each kind of result and its reporters, by name: the one place a command finds how to render what it has. */
const REPORTERS = {
  check: {
    pretty: ({ report, endpoints }, c) => renderCheckTable(report, endpoints, c),
    json: ({ report }) => renderCheckJson(report),
    junit: ({ report }) => renderCheckJunit(report),
    github: ({ report }) => renderCheckGithub(report),
  },
  'check-rules': { pretty: renderRuleList, json: renderRuleListJson },
  replay: { json: replayJson },
  'replay-scenario': { pretty: ({ scenario, reports }, c) => replayPretty(scenario, reports, c) },
  'replay-list': { pretty: replayList, json: replayListJson },
  load: { pretty: loadTable, json: loadJson, html: loadHtml },
  analyze: { pretty: analyzeTable, json: (report) => `${JSON.stringify(report, null, 2)}\n`, html: analyzeHtml },
  judge: { pretty: renderJudgeTable, json: renderJudgeJson, junit: renderJudgeJunit, html: renderJudgeHtml },
  token: { pretty: tokenPretty, json: tokenJson },
  'tail-item': {
    pretty: (item, c) => {
      const line = tailPrettyLine(item, c);
      return line === undefined ? '' : `${line}\n`;
    },
    json: ndjsonLine,
  },
  'proxy-log': { pretty: (item, c) => `${proxyPrettyLine(item, c)}\n`, json: ndjsonLine },
} as const satisfies ReporterTable;

type ReporterTable = { readonly [Kind in keyof ResultKinds]: Partial<Record<ReporterName, Reporter<ResultKinds[Kind]>>> };

/** The reporters a kind of result has. */
export type ReporterOf<Kind extends keyof ResultKinds> = keyof (typeof REPORTERS)[Kind] & ReporterName;

/** The reporter `name` for `kind`, its colour decided once (`color` from `cli.ts`'s facts). */
export function reporterFor<Kind extends keyof ResultKinds>(kind: Kind, name: ReporterOf<Kind>, options: { readonly color: boolean } = { color: false }): (result: ResultKinds[Kind]) => string {
  const table: ReporterTable = REPORTERS;
  // `name` is one of the kind's reporters by its type (`ReporterOf`).
  const render = table[kind][name]!;
  const c = new Chalk({ level: options.color ? 1 : 0 });
  return (result) => render(result, c);
}
