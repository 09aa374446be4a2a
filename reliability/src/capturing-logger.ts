// byok's log lines kept in memory, for the leak scans to search.

/**
 * A byok logger that keeps every line (fields and message, errors with their stack) in
 * `lines`, for the leak scan to search.
 */
export function capturingLogger(lines: string[]): { info: LogLine; warn: LogLine; error: LogLine } {
  const line: LogLine = (obj, msg) => void lines.push(JSON.stringify({ obj, msg }, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message, stack: v.stack } : v)));
  return { info: line, warn: line, error: line };
}
type LogLine = (obj: object, msg?: string) => void;
