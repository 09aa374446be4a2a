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

/**
 * Whether this runtime can format dates in `value`. `Intl.supportedValuesOf('timeZone')`
 * lists only canonical ICU names, so it leaves out zones browsers report every day
 * (`Asia/Kolkata`, `Europe/Kyiv`, links such as `US/Eastern`, `Etc/GMT+5`); asking
 * `Intl.DateTimeFormat` accepts every zone the runtime can actually use.
 */
function isUsableTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/**
 * An IANA time zone name (or link) this runtime can format in, stored as given: the
 * value a browser reports from `Intl.DateTimeFormat().resolvedOptions().timeZone`.
 *
 * @example
 * timeZone.parse('Asia/Kolkata'); // 'Asia/Kolkata'
 * timeZone.safeParse('Europe/Atlantis').success; // false
 */
export const timeZone = z.string().min(1).max(64).refine(isUsableTimeZone, 'Not an IANA time zone');

export const theme = z.enum(['light', 'dark', 'system']);

export const preferencesSchema = z.object({ theme, language: z.string(), timezone: z.string(), updatedAt: z.number() });
export type Preferences = z.infer<typeof preferencesSchema>;

/** Input of a preferences update: any subset, each field validated. */
export const preferencesPatch = z
  .object({ theme: theme.optional(), language: languageTag.optional(), timezone: timeZone.optional() })
  .strict();
export type PreferencesPatch = z.input<typeof preferencesPatch>;

export const DEFAULT_PREFERENCES = { theme: 'system', language: 'en', timezone: 'UTC' } as const;
