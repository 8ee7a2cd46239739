import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Appending to the audit chain becomes one round trip: `audit_append(events)`
 * takes the chain lock, reads the head, links and inserts each event. Before,
 * the service sent the lock, the head read and the insert as three statements
 * on every state change, and on this machine each round trip costs more CPU
 * than the hashing. The hash formula is unchanged: the service sends each
 * event's canonical JSON and the function computes
 * `hash = sha256(prevHash || canonical)`, so /verify recomputes it from the
 * stored columns.
 */
export class AuditAppendFunction1795453500000 implements MigrationInterface {
  name = 'AuditAppendFunction1795453500000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE FUNCTION audit_append(events jsonb) RETURNS void LANGUAGE plpgsql AS $$
      DECLARE
        head_seq bigint;
        head_hash text;
        event jsonb;
        next_hash text;
      BEGIN
        -- Serialises writers of the chain until commit. Each statement below
        -- takes a fresh snapshot, so the head read sees every committed event.
        PERFORM pg_advisory_xact_lock(hashtextextended('agent-credentials:audit-chain', 0));
        SELECT seq, hash INTO head_seq, head_hash FROM audit_events ORDER BY seq DESC LIMIT 1;
        head_seq := coalesce(head_seq, 0);
        head_hash := coalesce(head_hash, repeat('0', 64));
        FOR event IN SELECT value FROM jsonb_array_elements(events) LOOP
          head_seq := head_seq + 1;
          next_hash := encode(sha256(convert_to(head_hash || (event->>'canonical'), 'UTF8')), 'hex');
          INSERT INTO audit_events (id, seq, at, actor, action, target_type, target_id, request_id, data, prev_hash, hash)
          VALUES ((event->>'id')::uuid, head_seq, (event->>'at')::timestamptz, event->'actor', event->>'action',
                  event->>'targetType', event->>'targetId', event->>'requestId', event->'data', head_hash, next_hash);
          head_hash := next_hash;
        END LOOP;
      END
      $$`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP FUNCTION audit_append(jsonb)');
  }
}
