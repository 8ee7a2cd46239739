/**
 * `count` more active credentials copied in SQL from one issued through the
 * API, each with its own id, client id and local secret reference, sharing the
 * template's secret hash (no secret is ever read). For tests and benchmarks
 * that need thousands of credentials without issuing each one: the bulk
 * revocation tests and bench/support.ts.
 */
export async function copyCredentials(
  db: { query(sql: string, params: unknown[]): Promise<unknown> },
  templateId: string,
  count: number,
): Promise<void> {
  await db.query(
    `INSERT INTO credentials (id, client_id, agent_id, owner_id, type, environment, scopes, rate_limit_requests, rate_limit_per_seconds,
       ip_allowlist, secret_store, secret_ref, secret_version, secret_version_id, secret_sha256, secret_delivered_version, status,
       rotation_interval_days, grace_period_hours, next_rotation_at, requested_by, created_at, updated_at)
     SELECT g.id, 'agc_' || replace(g.id::text, '-', ''), c.agent_id, c.owner_id, c.type, c.environment, c.scopes, c.rate_limit_requests,
            c.rate_limit_per_seconds, c.ip_allowlist, c.secret_store, 'local:' || g.id, 1, '1', c.secret_sha256, 1, 'active',
            c.rotation_interval_days, c.grace_period_hours, c.next_rotation_at, c.requested_by, c.created_at, c.updated_at
       FROM credentials c, (SELECT gen_random_uuid() AS id FROM generate_series(1, $2::int)) g WHERE c.id = $1`,
    [templateId, count],
  );
}
