import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HOST_ID_FILE, HOST_ID_PATTERN, resolveHostId } from '../../core/host-id.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'ao-host-id-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('host id', () => {
  it('is AO_HOST_ID when given, and then writes nothing', async () => {
    expect(await resolveHostId({ configured: 'box-1', dataDir })).toBe('box-1');
    await expect(readFile(join(dataDir, HOST_ID_FILE), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('is generated once and kept in the data dir, so a restart (or a recreated container on the same volume) keeps it', async () => {
    const first = await resolveHostId({ configured: undefined, dataDir: join(dataDir, 'new') });
    expect(first).toMatch(HOST_ID_PATTERN);
    expect(await resolveHostId({ configured: undefined, dataDir: join(dataDir, 'new') })).toBe(first);
  });

  it('is the same for processes starting at once on one data dir', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, () => resolveHostId({ configured: undefined, dataDir })));
    expect(new Set(ids).size).toBe(1);
    expect((await readFile(join(dataDir, HOST_ID_FILE), 'utf8')).trim()).toBe(ids[0]);
  });

  it('refuses a host-id file that does not hold a host id, naming the file', async () => {
    await writeFile(join(dataDir, HOST_ID_FILE), 'Not A Host\n');
    await expect(resolveHostId({ configured: undefined, dataDir })).rejects.toThrow(/host-id holds "Not A Host"/);
  });
});
