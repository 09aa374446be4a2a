import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Compiles test/types/typed-calls.ts with tsc; each `@ts-expect-error` there must meet its error. */
function diagnostics(config: string): string[] {
  const path = `${here}types/${config}`;
  const read = ts.readConfigFile(path, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, `${here}types`, undefined, path);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

describe('the client’s types come from core’s registry', () => {
  it.each(['tsconfig.ai5.json', 'tsconfig.ai6.json'])('typed calls compile, wrong inputs do not, and the transport is a ChatTransport (%s)', (config) => {
    expect(diagnostics(config)).toEqual([]);
  }, 300_000);
});
