import type { Rule } from '../types.js';
import { streamTokenExpiry, streamTokenInvalid, streamTokenRequired, streamTokenSingleUse } from './streamAccess.js';
import { streamDurationCap, streamFailedGeneration, streamResume, streamTerminalGeneration } from './streamLifecycle.js';
import { streamConnectedFirst, streamEventSchema, streamHeaders, streamProxyHints, streamTraceId } from './streamShape.js';
import { streamCleanClose, streamCloseAfterTerminal, streamHeartbeat, streamNoBuffering, streamTerminalEvent } from './streamTiming.js';
import { tokenAuth, tokenIssue, tokenOwner, tokenStreamUrl, tokenUnknownId } from './tokenAccess.js';
import { tokenRateLimit, tokenRetryAfter } from './tokenRateLimit.js';
import { tokenTerminalCompleted, tokenTerminalFailed } from './tokenTerminal.js';

/** Every rule, in report order: the token endpoint first, then the stream. Ids are stable. */
export const RULES: readonly Rule[] = [
  tokenAuth,
  tokenOwner,
  tokenUnknownId,
  tokenIssue,
  tokenStreamUrl,
  tokenTerminalFailed,
  tokenTerminalCompleted,
  tokenRateLimit,
  tokenRetryAfter,
  streamTokenRequired,
  streamTokenInvalid,
  streamTokenSingleUse,
  streamTokenExpiry,
  streamHeaders,
  streamTraceId,
  streamProxyHints,
  streamConnectedFirst,
  streamEventSchema,
  streamHeartbeat,
  streamTerminalEvent,
  streamCloseAfterTerminal,
  streamCleanClose,
  streamFailedGeneration,
  streamTerminalGeneration,
  streamNoBuffering,
  streamResume,
  streamDurationCap,
];
