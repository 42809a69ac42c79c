import { Chalk } from 'chalk';
import { terminalSafe } from '../reporters/terminalText.js';
import { EXIT_CODES, UnreachableError } from '../errors.js';
import { describeTransportFailure } from '../engine/connection.js';
import { GenerationsApi, whyNoToken } from '../engine/generationsApi.js';
import type { SecretSink } from '../engine/secrets.js';
import { createDispatcher } from '../engine/http.js';
import { diagnoseTokenStatus } from '../engine/tokenDiagnosis.js';
import type { TargetOptions } from '../engine/target.js';

export interface TokenOptions {
  readonly target: TargetOptions;
  readonly generationId: string;
  readonly json: boolean;
  readonly color: boolean;
}

/** `sse-doctor token <id>`: one token request, its answer and what it means. */
export async function token(options: TokenOptions, io: { stdout: NodeJS.WritableStream; secrets?: SecretSink }): Promise<number> {
  const dispatcher = createDispatcher(options.target);
  try {
    const api = new GenerationsApi(options.target, dispatcher, io.secrets);
    const result = await api.requestToken(options.generationId);
    if ('failure' in result) {
      throw new UnreachableError(`${api.url('token', options.generationId)}: ${describeTransportFailure(result.failure.failure, result.failure.code)}`);
    }
    const { exchange } = result;
    const detail = result.ok ? '' : whyNoToken(result);
    const diagnosis = diagnoseTokenStatus(exchange.status, exchange.retryAfterSeconds, options.target.profile.client.rateLimitFallbackSeconds, result.ok);
    const report = {
      generationId: options.generationId,
      status: exchange.status,
      ok: result.ok,
      latencyMs: Math.round(exchange.latencyMs * 10) / 10,
      token: result.ok ? result.token.token : null,
      expiresIn: result.ok ? (result.token.expiresIn ?? null) : null,
      streamUrl: result.ok ? result.token.streamUrl : null,
      retryAfter: exchange.retryAfterSeconds ?? null,
      detail: result.ok ? null : detail,
      meaning: diagnosis.meaning,
      next: diagnosis.next,
    };
    if (options.json) {
      io.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      const c = new Chalk({ level: options.color ? 1 : 0 });
      const lines = result.ok
        ? [
            `${c.green('200')} token issued in ${report.latencyMs} ms`,
            `  token       ${terminalSafe(report.token ?? '')}`,
            `  expires_in  ${report.expiresIn ?? c.yellow('(missing)')} s`,
            `  stream_url  ${terminalSafe(report.streamUrl ?? '')}`,
          ]
        : [
            `${c.red(String(exchange.status))} no token (${report.latencyMs} ms)${report.retryAfter !== null ? `, Retry-After: ${report.retryAfter} s` : ''}`,
            `  detail  ${detail ? terminalSafe(detail) : c.dim('(none)')}`,
          ];
      lines.push(`  means   ${diagnosis.meaning}`, `  next    ${diagnosis.next}`);
      io.stdout.write(`${lines.join('\n')}\n`);
    }
    return result.ok ? EXIT_CODES.ok : EXIT_CODES.findings;
  } finally {
    await dispatcher.close();
  }
}
