/**
 * Exit codes scripts can test. Anything the hub refused maps to one by its status (a trigger `send` posts
 * too: 401 is 3); `1` is a check that failed (a signature that does not verify, a run that did not succeed).
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  refused: 5,
  unavailable: 6,
  rateLimited: 7,
} as const;

/** A failure the CLI reports in one line (or as JSON with --json) and exits with. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The exit code for an HTTP status the hub answered with. */
export function exitCodeForStatus(status: number): number {
  if (status < 400) return EXIT.ok;
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 429) return EXIT.rateLimited;
  if (status >= 500) return EXIT.unavailable;
  return EXIT.refused;
}
