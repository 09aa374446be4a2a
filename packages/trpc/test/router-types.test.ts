import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Compiles test/types/client-types.ts with tsc: typed calls compile, each `@ts-expect-error` meets its error. */
function diagnostics(): string[] {
  const path = `${here}types/tsconfig.json`;
  const read = ts.readConfigFile(path, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, `${here}types`, undefined, path);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : '';
    return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

describe('a tRPC client typed from createByokRouter', () => {
  it('gets each procedure’s real input and output types from core’s registry', () => {
    expect(diagnostics()).toEqual([]);
  }, 120_000);
});
