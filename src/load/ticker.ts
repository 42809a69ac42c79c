import type { LoadSnapshot } from './recorder.js';

/** The live line: elapsed, open streams, events/s, 429 rate, errors. */
export function tickerLine(snapshot: LoadSnapshot, durationMs: number): string {
  const rate429 = snapshot.answers > 0 ? (snapshot.answers429 / snapshot.answers) * 100 : 0;
  return [
    `${Math.round(snapshot.elapsedMs / 1000)}/${Math.round(durationMs / 1000)}s`,
    `open ${snapshot.open.toLocaleString('en-US')}`,
    `events/s ${snapshot.eventsLastSecond.toLocaleString('en-US')}`,
    `429 ${rate429.toFixed(1)}%`,
    `errors ${snapshot.errors.toLocaleString('en-US')}`,
    `flows ${snapshot.flows.toLocaleString('en-US')}`,
  ].join('  ');
}

/** Adds up what several workers reported last, for one ticker line. */
export function sumSnapshots(snapshots: readonly LoadSnapshot[]): LoadSnapshot {
  const sum = { elapsedMs: 0, open: 0, flows: 0, events: 0, eventsLastSecond: 0, answers: 0, answers429: 0, errors: 0 };
  for (const s of snapshots) {
    sum.elapsedMs = Math.max(sum.elapsedMs, s.elapsedMs);
    sum.open += s.open;
    sum.flows += s.flows;
    sum.events += s.events;
    sum.eventsLastSecond += s.eventsLastSecond;
    sum.answers += s.answers;
    sum.answers429 += s.answers429;
    sum.errors += s.errors;
  }
  return sum;
}

// Without a terminal, a line every few seconds is enough for a CI log.
const PIPE_LINE_EVERY_MS = 5000;

/**
 * Writes the ticker to stderr: one line redrawn in place on a TTY, a plain line every few
 * seconds otherwise. The output stays off stdout, which carries the report.
 */
export class Ticker {
  private lastPlainAt = 0;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly isTty: boolean,
    private readonly durationMs: number,
  ) {}

  update(snapshot: LoadSnapshot): void {
    const line = tickerLine(snapshot, this.durationMs);
    if (this.isTty) {
      this.stream.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else if (snapshot.elapsedMs - this.lastPlainAt >= PIPE_LINE_EVERY_MS) {
      this.lastPlainAt = snapshot.elapsedMs;
      this.stream.write(`${line}\n`);
    }
  }

  /** Clears the live line before the report is printed. */
  done(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}
