#!/usr/bin/env node
// The `ao` command. Commands are compiled to dist/ by `npm run build`.
import { execute } from '@oclif/core';

await execute({ dir: import.meta.url });
