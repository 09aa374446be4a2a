import { z } from 'zod';

/** BCP 47 tag, canonicalised (`en-us` → `en-US`); anything Intl rejects is invalid. */
export const languageTag = z
  .string()
  .min(2)
  .max(35)
  .transform((value, ctx) => {
    try {
      const [canonical] = Intl.getCanonicalLocales(value);
      if (canonical) return canonical;
    } catch {
      // fall through to the issue below
    }
    ctx.addIssue({ code: 'custom', message: 'Not a BCP 47 language tag' });
    return z.NEVER;
  });

let zones: Set<string> | undefined;

/** IANA time zone name known to this runtime (plus `UTC`). */
export const timeZone = z
  .string()
  .min(1)
  .max(64)
  .refine((value) => {
    zones ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC', 'Etc/UTC']);
    return zones.has(value);
  }, 'Not an IANA time zone');

export const theme = z.enum(['light', 'dark', 'system']);

export const preferencesSchema = z.object({ theme, language: z.string(), timezone: z.string(), updatedAt: z.number() });
export type Preferences = z.infer<typeof preferencesSchema>;

/** Input of a preferences update: any subset, each field validated. */
export const preferencesPatch = z
  .object({ theme: theme.optional(), language: languageTag.optional(), timezone: timeZone.optional() })
  .strict();
export type PreferencesPatch = z.input<typeof preferencesPatch>;

export const DEFAULT_PREFERENCES = { theme: 'system', language: 'en', timezone: 'UTC' } as const;
