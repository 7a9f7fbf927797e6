import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { connect } from '../../core/db/connect.js';
import { runMigrations } from '../../core/db/migrate.js';
import { dropDatabase, ensureDatabase, withDatabase } from '../../core/services.js';

const { runId, adminUrl } = inject('aoTest');
const name = `ao_test_${runId}_migrations_${randomBytes(3).toString('hex')}`;
const url = withDatabase(adminUrl, name);
const sql = connect(url, { max: 4 });

afterAll(async () => {
  await sql.end({ timeout: 5 });
  await dropDatabase(adminUrl, name);
});

/** a fingerprint of every object the migrations own */
async function schemaFingerprint(): Promise<string[]> {
  const rows = await sql<Array<{ item: string }>>`
    select 'table ' || table_name as item from information_schema.tables where table_schema = 'ao'
    union all
    select 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || md5(p.prosrc)
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'ao'
    union all
    select 'trigger ' || event_object_table || '.' || trigger_name || ' ' || event_manipulation
      from information_schema.triggers where trigger_schema = 'ao'
    union all
    select 'index ' || indexname from pg_indexes where schemaname = 'ao'
    order by 1`;
  return rows.map((r) => r.item);
}

describe('migrations', () => {
  it('apply to an empty database and applying them again changes nothing', async () => {
    await ensureDatabase(adminUrl, name);
    await runMigrations(url);
    const first = await schemaFingerprint();
    const [{ applied }] = await sql<[{ applied: number }]>`select count(*)::int as applied from graphile_migrate.migrations`;
    expect(first).toEqual(expect.arrayContaining(['table change_log', 'table pull_requests', 'table sessions', 'table jobs']));
    expect(applied).toBeGreaterThan(0);

    await runMigrations(url);

    expect(await schemaFingerprint()).toEqual(first);
    const [{ again }] = await sql<[{ again: number }]>`select count(*)::int as again from graphile_migrate.migrations`;
    expect(again).toBe(applied);
  });

  it('serialise concurrent runs instead of failing on the migration lock', async () => {
    await Promise.all([runMigrations(url), runMigrations(url), runMigrations(url)]);
    const [{ applied }] = await sql<[{ applied: number }]>`select count(*)::int as applied from graphile_migrate.migrations`;
    expect(applied).toBeGreaterThan(0);
  });
});
