import { Injectable } from '@nestjs/common';
import type { Counter, Histogram } from 'prom-client';

import { MetricsService, sharedPerScrape } from '../common/metrics/metrics.service';
import type { RotationStep, RotationTrigger } from './entities/rotation.entity';
import { RotationsRepository } from './rotations.repository';

/**
 * Rotation metrics on the application's registry: rotations started,
 * completed, failed for good (dead letters) and stopped by a revocation, by
 * store; failed tries by store and step; time from start to promotion; and
 * the running and failed rotations, read from Postgres at scrape time so every
 * replica reports the same truth.
 */
@Injectable()
export class RotationMetrics {
  private readonly started: Counter<'store' | 'trigger'>;
  private readonly finished: Counter<'store' | 'outcome'>;
  private readonly stepErrors: Counter<'store' | 'step'>;
  private readonly retired: Counter<'store'>;
  private readonly duration: Histogram<'store'>;
  private readonly run: Histogram<'store'>;

  constructor(metrics: MetricsService, repository: RotationsRepository) {
    this.started = metrics.counter('rotations_started_total', 'Rotations started, by store and trigger (scheduled or manual)', [
      'store',
      'trigger',
    ]);
    this.finished = metrics.counter(
      'rotations_finished_total',
      'Rotations that ended: completed (promoted), failed (out of tries, waiting for a person) or cancelled (credential revoked)',
      ['store', 'outcome'],
    );
    this.stepErrors = metrics.counter('rotation_step_errors_total', 'Failed tries of a rotation step, by store and the step it was at', [
      'store',
      'step',
    ]);
    this.retired = metrics.counter('rotation_versions_retired_total', 'Previous versions destroyed at the end of their grace period', [
      'store',
    ]);
    this.duration = metrics.histogram(
      'rotation_duration_seconds',
      'From a rotation starting to its new version being promoted',
      ['store'],
      [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400],
    );
    this.run = metrics.histogram(
      'rotation_run_seconds',
      'Wall time of the job run that took a rotation through its steps to promotion (excludes queueing and backoff)',
      ['store'],
      [0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30],
    );
    const read = sharedPerScrape(async () => new Map((await repository.countsByStatus()).map((r) => [r.status, r.n])));
    metrics.gauge(
      'rotations_failed',
      'Rotations failed for good, waiting in the dead-letter list (GET /v1/rotations?status=failed)',
      async () => (await read()).get('failed') ?? 0,
    );
    metrics.gauge('rotations_running', 'Rotations in progress', async () => (await read()).get('running') ?? 0);
  }

  rotationStarted(store: string, trigger: RotationTrigger, count = 1): void {
    this.started.inc({ store, trigger }, count);
  }

  completed(store: string, seconds: number): void {
    this.finished.inc({ store, outcome: 'completed' });
    this.duration.observe({ store }, Math.max(0, seconds));
  }

  /** One job run that ended in promotion, timed by the worker (not the domain clock, which tests move). */
  ranToPromotion(store: string, seconds: number): void {
    this.run.observe({ store }, Math.max(0, seconds));
  }

  failed(store: string): void {
    this.finished.inc({ store, outcome: 'failed' });
  }

  cancelled(store: string): void {
    this.finished.inc({ store, outcome: 'cancelled' });
  }

  stepError(store: string, step: RotationStep): void {
    this.stepErrors.inc({ store, step });
  }

  versionRetired(store: string): void {
    this.retired.inc({ store });
  }
}
