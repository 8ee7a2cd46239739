import type { Server } from 'node:http';

import { BeforeApplicationShutdown, Injectable, Logger } from '@nestjs/common';
import { DiscoveryService, HttpAdapterHost } from '@nestjs/core';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

import { AppConfig } from '../../config/app-config';
import { describeShutdown, runShutdown, ShutdownReport } from './run-shutdown';
import { isShutdownParticipant, ShutdownPhase, ShutdownStep } from './shutdown-step';

/**
 * Stops the process in order, within SHUTDOWN_TIMEOUT_MS whatever state Redis
 * and Postgres are in: the HTTP server first (no new work), then workers and
 * sweeps, then buffers are flushed, then connections close. Steps come from
 * every provider that is a ShutdownParticipant, plus the HTTP server and the
 * Postgres pool, which this class closes itself. Ends with one log line: what
 * was abandoned, or that nothing was.
 *
 * It runs in Nest's beforeApplicationShutdown, so `app.close()` (main.ts on
 * SIGTERM, the tests) always goes through it; it runs after every
 * onModuleDestroy, which is why nothing that serves requests or jobs should
 * close itself there.
 */
@Injectable()
export class ShutdownSequence implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Shutdown');
  private run: Promise<ShutdownReport> | null = null;
  private startedAt: number | null = null;

  constructor(
    private readonly config: AppConfig,
    private readonly discovery: DiscoveryService,
    private readonly httpHost: HttpAdapterHost,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /** Starts the clock: main.ts calls this on the signal, so time spent before Nest reaches the sequence counts too. */
  begin(): void {
    this.startedAt ??= performance.now();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** Runs the sequence once; later calls get the same report. */
  stop(): Promise<ShutdownReport> {
    this.begin();
    this.run ??= runShutdown(this.steps(), this.config.shutdown.timeoutMs, () => performance.now(), this.startedAt!).then((report) => {
      const line = describeShutdown(report);
      if (report.abandoned.length) this.logger.warn(line);
      else this.logger.log(line);
      return report;
    });
    return this.run;
  }

  private steps(): ShutdownStep[] {
    const participants = new Set(this.discovery.getProviders().map((wrapper) => wrapper.instance as unknown));
    const steps: ShutdownStep[] = [];
    const server = this.httpHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (server?.listening) {
      steps.push({
        phase: ShutdownPhase.Intake,
        name: 'http requests',
        count: 1,
        // Stops accepting; requests in flight finish, new ones on kept-alive connections get 503.
        close: () => this.httpHost.httpAdapter.close(),
        force: () => server.closeAllConnections(),
      });
    }
    for (const participant of participants) {
      if (isShutdownParticipant(participant)) steps.push(...participant.shutdownSteps());
    }
    if (this.dataSource.isInitialized) {
      steps.push({
        phase: ShutdownPhase.Connections,
        name: 'postgres pool',
        count: 1,
        // Waits for connections in use to be released; what is still waiting at the deadline is left to the exit.
        close: () => this.dataSource.destroy(),
      });
    }
    return steps;
  }
}
