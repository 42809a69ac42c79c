import { writeSync } from 'node:fs';

/**
 * Loaded with `node --import` in front of a process the bench measures (the CLI as users run
 * it, or the baseline client): as the process exits, its maximum resident set (KiB) goes to fd 3,
 * a pipe the bench opened for it, so nothing is added to the process's own output.
 */
process.once('exit', () => {
  writeSync(3, `${JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS })}\n`);
});
