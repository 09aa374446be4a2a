#!/usr/bin/env node
import { runCli } from './cli/main';

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`byok: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
