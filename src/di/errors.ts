import { SealrouteError } from '../core/errors';

/** A decorated class that cannot be built: missing metadata, missing decorator, unresolvable dependency. */
export class DiError extends SealrouteError {
  override readonly name = 'DiError';
  constructor(
    code: 'NOT_DECORATED' | 'NO_PARAM_TYPES' | 'UNRESOLVED_DEPENDENCY',
    message: string,
    options?: { cause?: unknown },
  ) {
    super('di', code, message, options);
  }
}
