/** Stable error codes for the tool's own trouble. Findings about a target are values, never these. */
export type DoctorErrorCode = 'E_USAGE' | 'E_CONFIG' | 'E_UNREACHABLE' | 'E_REFUSED' | 'E_SCENARIO';

/** Exit code for each error code, applied only in `cli.ts`. */
export const EXIT_CODES = {
  ok: 0,
  findings: 1,
  usage: 2,
  unreachable: 3,
  /** Stopped by Ctrl-C/SIGTERM: the report covers what ran, and is never a pass. */
  interrupted: 130,
  /** The reader of stdout went away (`| head -1`): 128 + SIGPIPE, what a shell pipeline's writer usually gets. */
  outputClosed: 141,
} as const;

/** Base class: a one-line message that says what to do next, a stable code, the cause chained. */
export class DoctorError extends Error {
  readonly code: DoctorErrorCode;

  constructor(code: DoctorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DoctorError';
    this.code = code;
  }

  get exitCode(): number {
    return this.code === 'E_UNREACHABLE' ? EXIT_CODES.unreachable : EXIT_CODES.usage;
  }
}

export class ConfigError extends DoctorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CONFIG', message, options);
    this.name = 'ConfigError';
  }
}

export class UsageError extends DoctorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_USAGE', message, options);
    this.name = 'UsageError';
  }
}

export class UnreachableError extends DoctorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_UNREACHABLE', message, options);
    this.name = 'UnreachableError';
  }
}

/**
 * The target answered a request the run cannot go on without (create a generation, say) with a
 * refusal or an unusable body: most often `--auth` or the profile's paths. Exit 2, like a config error.
 */
export class RefusedError extends DoctorError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_REFUSED', message, options);
    this.name = 'RefusedError';
  }
}
