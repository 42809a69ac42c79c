import { EXIT_CODES } from '../errors.js';
import { GenerationsApi, answerError, whyRefused } from '../engine/generationsApi.js';
import type { SecretSink } from '../engine/secrets.js';
import { createDispatcher } from '../engine/http.js';
import { diagnoseTokenStatus } from '../engine/tokenDiagnosis.js';
import type { TargetOptions } from '../engine/target.js';
import { reporterFor } from '../reporters/registry.js';
import type { TokenReport } from '../reporters/token.js';

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
    const api = new GenerationsApi(options.target, { dispatcher, secrets: io.secrets });
    const result = await api.requestToken(options.generationId);
    // The answer is this command's subject: a refusal is its report (exit 1), only no answer is an error.
    if ('failure' in result) throw answerError(result, 'token', api.url('token', options.generationId), 'check --base-url and the generation id');
    const { exchange } = result;
    const detail = result.ok ? '' : whyRefused(result);
    const diagnosis = diagnoseTokenStatus(exchange.status, exchange.retryAfterSeconds, options.target.profile.client.rateLimitFallbackSeconds, result.ok);
    const report: TokenReport = {
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
    io.stdout.write(reporterFor('token', options.json ? 'json' : 'pretty', options)(report));
    return result.ok ? EXIT_CODES.ok : EXIT_CODES.findings;
  } finally {
    await dispatcher.close();
  }
}
