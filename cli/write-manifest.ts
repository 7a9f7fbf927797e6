import { rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Plugin } from '@oclif/core';

/**
 * Writes oclif.manifest.json from the compiled commands, never from an older manifest, so the
 * manifest cannot be stale: `npm run build` (and so `npm test`) always runs this after tsc.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
await rm(`${root}/oclif.manifest.json`, { force: true });
const plugin = new Plugin({ root, isRoot: true, ignoreManifest: true, errorOnManifestCreate: true });
await plugin.load();
await writeFile(`${root}/oclif.manifest.json`, `${JSON.stringify(plugin.manifest, null, 2)}\n`);
console.log(`oclif.manifest.json: ${Object.keys(plugin.manifest.commands).length} commands`);
