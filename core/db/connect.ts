import postgres from 'postgres';

/** A pool (`Sql`) or a transaction (`TransactionSql`): every store function accepts either. */
export type Db = postgres.ISql;
export type Pool = postgres.Sql;

export interface ConnectOptions {
  /** connections in this process's pool */
  max?: number;
  /** shown in pg_stat_activity, e.g. `ao-api`, `ao-worker` */
  applicationName?: string;
}

export function connect(databaseUrl: string, options: ConnectOptions = {}): Pool {
  return postgres(databaseUrl, {
    max: options.max ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    // `undefined` reaching a query is a bug in the caller; null is the explicit "no value".
    transform: { undefined: null },
    connection: { application_name: options.applicationName ?? 'ao' },
  });
}

/**
 * A jsonb parameter. postgres.js types json values structurally; our values are zod-checked
 * domain objects (plain data), which is what JSONValue describes.
 */
export function jsonb(db: Db, value: unknown): postgres.Parameter {
  return db.json(value as postgres.JSONValue);
}
