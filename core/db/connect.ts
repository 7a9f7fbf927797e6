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

/** No transaction of ao waits on anything but Postgres itself; 10 s idle inside one is a bug or a dead client. */
export const IDLE_IN_TRANSACTION_MS = 10_000;

export function connect(databaseUrl: string, options: ConnectOptions = {}): Pool {
  return postgres(databaseUrl, {
    max: options.max ?? 10,
    idle_timeout: 30,
    connect_timeout: 10,
    onnotice: () => {},
    // `undefined` reaching a query is a bug in the caller; null is the explicit "no value".
    transform: { undefined: null },
    // A transaction left open holds back every change-log reader (their horizon is the oldest
    // running transaction), so none may outlive a stuck or vanished client for long: the server
    // ends idle transactions, probes the connection of a host that went silent, and checks for
    // a gone client during a long statement.
    keep_alive: 15,
    connection: {
      application_name: options.applicationName ?? 'ao',
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
      tcp_keepalives_idle: 15,
      tcp_keepalives_interval: 5,
      tcp_keepalives_count: 3,
      client_connection_check_interval: 10_000,
    },
  });
}

/**
 * A jsonb parameter. postgres.js types json values structurally; our values are zod-checked
 * domain objects (plain data), which is what JSONValue describes.
 */
export function jsonb(db: Db, value: unknown): postgres.Parameter {
  return db.json(value as postgres.JSONValue);
}
