import { SealrouteError } from '../core/errors';

/** The codes of `DiError`. */
export const DI_ERROR_CODES = ['NOT_DECORATED', 'NO_PARAM_TYPES', 'UNRESOLVED_DEPENDENCY'] as const;
export type DiErrorCode = (typeof DI_ERROR_CODES)[number];

/** A decorated class that cannot be built: missing metadata, missing decorator, unresolvable dependency. */
export class DiError extends SealrouteError<DiErrorCode> {
  override readonly name = 'DiError';
  constructor(code: DiErrorCode, message: string, options?: { cause?: unknown }) {
    super('di', code, message, options);
  }
}
