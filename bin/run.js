#!/usr/bin/env node
// The `ao` command. Commands are compiled to dist/ by `npm run build` (which `npm ci` and
// `npm install` run as the `prepare` script).
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

if (!existsSync(new URL('../dist/cli/commands/', import.meta.url))) {
  const message = 'ao is not built: run `npm run build` (or `npm ci`, which builds it)';
  const args = process.argv.slice(2);
  const end = args.indexOf('--');
  if ((end < 0 ? args : args.slice(0, end)).includes('--json')) {
    process.stdout.write(`${JSON.stringify({ error: { code: 'NOT_BUILT', message, details: null } }, null, 2)}\n`);
  } else {
    process.stderr.write(`${message}\n`);
  }
  process.exit(2);
}

const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
