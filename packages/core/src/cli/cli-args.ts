import { parseArgs } from 'node:util';

/** One flag a command accepts (the `node:util` `parseArgs` option shape). */
export interface CliOption {
  type: 'string' | 'boolean';
  /** Repeatable: the values are collected in an array. */
  multiple?: boolean;
  /** A one-letter alias (`-h`). */
  short?: string;
}

/** The flags a command accepts, by long name. */
export type CliOptions = Readonly<Record<string, CliOption>>;

/** The parsed value of each flag given (absent flags are `undefined`). */
export type CliValues<O extends CliOptions> = {
  [K in keyof O]?: O[K]['type'] extends 'string' ? (O[K]['multiple'] extends true ? string[] : string) : O[K]['multiple'] extends true ? boolean[] : boolean;
};

/** A successful parse: the flags and the positionals in order. */
export interface CliArgs<O extends CliOptions> {
  values: CliValues<O>;
  positionals: string[];
  /** Where each positional stood in `args` (same order as `positionals`). */
  positionalIndexes: number[];
  /** The indexes in `args` that belong to each flag: its own and, for `--flag value`, its value's. */
  optionIndexes: Record<string, number[]>;
}

/**
 * Parses command-line arguments with `node:util` `parseArgs` in strict mode: an unknown
 * flag (`--bacth 10`), a value given to a boolean flag (`--json=yes`) or a string flag
 * without its value is a usage error, never silently ignored. Positionals are allowed;
 * `--` ends the flags.
 *
 * @example
 * const parsed = parseCliArgs(['rewrap', '--batch', '50'], { batch: { type: 'string' } });
 * if ('error' in parsed) return usage(parsed.error); // e.g. "Unknown argument: --bacth"
 * parsed.values.batch; // '50'
 */
export function parseCliArgs<const O extends CliOptions>(args: readonly string[], options: O): CliArgs<O> | { error: string } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options: options as Record<string, CliOption>, strict: true, allowPositionals: true, tokens: true });
  } catch (error) {
    return { error: usageMessage(error) };
  }
  const positionalIndexes: number[] = [];
  const optionIndexes: Record<string, number[]> = {};
  for (const token of parsed.tokens ?? []) {
    if (token.kind === 'positional') positionalIndexes.push(token.index);
    else if (token.kind === 'option') {
      const at = (optionIndexes[token.name] ??= []);
      at.push(token.index);
      if (token.value !== undefined && !token.inlineValue) at.push(token.index + 1);
    }
  }
  return { values: parsed.values as CliValues<O>, positionals: parsed.positionals, positionalIndexes, optionIndexes };
}

/** Node's message, shorter: "Unknown argument: --bacth" for an unknown flag, and no advice on `--`. */
function usageMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /^Unknown option '([^']*)'/u.exec(message) : null;
  if (unknown) return `Unknown argument: ${unknown[1]}`;
  return message.split('. To specify')[0]!.replace(/\.$/u, '');
}
