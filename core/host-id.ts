import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A host is one machine's disk: the worktrees on it, and the workers that can touch them. Its id
 * is recorded on every session, so work on a worktree goes to a worker of the host that holds it
 * (SPEC §1, issue 13). `AO_HOST_ID` names it; otherwise it is generated once and kept in
 * `<AO_DATA_DIR>/host-id`, so a process (or a container recreated on the same volume) keeps its
 * host, and every process sharing a data dir — `ao api` and `ao worker` beside each other — is
 * one host. Never the machine's hostname: in containers that is a container id, new each time.
 */
export const HOST_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const HOST_ID_RULE = 'lowercase letters, digits and "-", at most 63, starting with a letter or digit';

export const HOST_ID_FILE = 'host-id';

export async function resolveHostId(options: { configured: string | undefined; dataDir: string }): Promise<string> {
  if (options.configured) return options.configured;
  const file = join(options.dataDir, HOST_ID_FILE);
  const kept = await readHostIdFile(file);
  if (kept) return kept;
  await mkdir(options.dataDir, { recursive: true });
  const fresh = `host-${randomBytes(6).toString('hex')}`;
  // Written whole under a name of its own, then linked into place: link is atomic and fails when
  // the name exists, so of processes starting at once on one data dir one id wins for all, and no
  // process ever reads the file half-written (an exclusive create would show it empty for a moment).
  const draft = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(draft, 'wx', 0o644);
    try {
      await handle.writeFile(`${fresh}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await link(draft, file);
    return fresh;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = await readHostIdFile(file);
    if (winner) return winner;
    throw new Error(`${file} exists but does not hold a host id (${HOST_ID_RULE}); fix or delete it`, { cause: err });
  } finally {
    await unlink(draft).catch(() => {});
  }
}

async function readHostIdFile(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const id = text.trim();
  if (id === '') return null;
  if (!HOST_ID_PATTERN.test(id)) throw new Error(`${file} holds ${JSON.stringify(id)}, which is not a host id (${HOST_ID_RULE})`);
  return id;
}
