import { describe, expect, it } from 'vitest';
import { collectExamples, compileExamples } from './jsdoc-examples';

// Every @example in the public JSDoc compiles against the packages (see jsdoc-examples.ts
// for what a snippet may take for granted). An example that rots is a bug.
const examples = collectExamples();
let errors: Map<string, string[]> | undefined;
const errorsOf = (where: string): string[] => (errors ??= compileExamples(examples)).get(where) ?? [];

describe('JSDoc examples', () => {
  it('are found on the public declarations', () => {
    expect(examples.length).toBeGreaterThan(50);
    expect(examples.map((e) => e.where)).toEqual(expect.arrayContaining([expect.stringMatching(/^packages\/core\/src\/byok\.ts:\d+ createByok( #\d+)?$/)]));
  });

  it.each(examples.map((e) => [e.where, e] as const))('%s compiles', (_where, example) => {
    expect(errorsOf(example.where), `\n${example.code}\n`).toEqual([]);
  }, 300_000);
});
