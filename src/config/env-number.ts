import { z } from 'zod'

/** Decimal digits only: z.coerce.number() took ' ' for 0 (a random port), 0x1F90 and 1e4. */
export const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\s*-?\d+\s*$/, 'must be a whole number in decimal digits')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
