import { whyRefused } from '../../engine/generationsApi.js';
import { tokenEvidence } from '../evidence.js';
import { fail, pass, skip, type Rule, type RuleOutcome } from '../types.js';
import type { CheckContext } from '../context.js';

/** Asks for a token for a generation that has ended `outcome`; the contract wants 400. */
async function tokenForTerminal(ctx: CheckContext, outcome: 'completed' | 'failed'): Promise<RuleOutcome> {
  const terminal = await ctx.terminalGeneration(outcome);
  if (!terminal.ok) return skip(terminal.reason);
  const { id, errorMessage } = terminal.value;
  const answer = await ctx.api.requestToken(id, { signal: ctx.signal });
  if ('failure' in answer) return skip(ctx.failureReason(`token ${ctx.api.url('token', id)}`, answer.failure));
  const evidence = { generationId: id, generationStatus: outcome, errorMessage, ...tokenEvidence(answer) };
  const { status } = answer.exchange;
  const detail = answer.ok ? '' : whyRefused(answer);
  if (status >= 500) {
    return fail(
      `the token endpoint answered ${status} for a ${outcome} generation`,
      'clients treat 5xx as retryable: they ask again and again, which is how the seed\'s retry storm began (1000 requests per second)',
      `answer 400 with the status${outcome === 'failed' ? ' and the error' : ''} in "detail", e.g. "Generation has ${outcome}.${outcome === 'failed' ? ' Error: <error_message>.' : ''} Cannot stream."`,
      evidence,
    );
  }
  if (status === 200) {
    return fail(
      `the token endpoint issued a stream token for a ${outcome} generation`,
      'the stream of a finished generation closes at once, the client reconnects with a new token, forever: the seed\'s retry loop',
      'answer 400 for completed, failed and cancelled generations, so the client stops and shows the result',
      evidence,
    );
  }
  if (status !== 400) {
    return fail(
      `the token endpoint answered ${status} for a ${outcome} generation, not 400`,
      'a client cannot tell "this generation is over" from other errors',
      `answer 400 with a detail naming the status`,
      evidence,
    );
  }
  const missing: string[] = [];
  if (!detail.toLowerCase().includes(outcome)) missing.push(`the status "${outcome}"`);
  if (outcome === 'failed' && errorMessage !== undefined && !detail.includes(errorMessage)) missing.push(`the error "${errorMessage}"`);
  if (missing.length > 0) {
    return fail(
      `the 400 detail (${JSON.stringify(detail)}) does not name ${missing.join(' or ')}`,
      'the frontend cannot tell the user what happened, only that streaming is refused',
      'put the status and the error message in "detail", e.g. "Generation has failed. Error: <error_message>. Cannot stream."',
      evidence,
    );
  }
  return pass(`400 with detail ${JSON.stringify(detail)}`, evidence);
}

export const tokenTerminalFailed: Rule = {
  id: 'token.terminal-failed',
  severity: 'error',
  group: 'token',
  title: 'a failed generation gets 400 naming the status and the error, never 5xx',
  why: 'a failed generation has nothing left to stream: 400 naming the status and error tells the client to stop and show it; a 5xx invites a retry storm',
  profiles: ['generations'],
  run: (ctx) => tokenForTerminal(ctx, 'failed'),
};

export const tokenTerminalCompleted: Rule = {
  id: 'token.terminal-completed',
  severity: 'error',
  group: 'token',
  title: 'a completed generation gets 400, never a token',
  why: 'a completed generation has nothing left to stream: a token there is the first step of the seed\'s retry storm',
  profiles: ['generations'],
  run: (ctx) => tokenForTerminal(ctx, 'completed'),
};
