import type { IncomingMessage } from 'node:http';

import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import type { Options } from 'pino-http';

import type { AppConfig } from '../../config/app-config';
import { REQUEST_ID } from '../http/request-id';
import { censorSensitive, scrubSecrets } from './redact';
import { RequestLogging } from './request-logging';

type RawRequest = IncomingMessage & { [REQUEST_ID]?: string };

/**
 * Structured JSON logs through pino: one line per request with its id, and the
 * same id on every line written while serving it, except on the enforcement hot
 * path, which writes no access-log line (its calls are per-call usage records;
 * src/common/logging/request-logging.ts, installed by src/app.setup.ts). Fields
 * named like secrets or tokens are censored at any depth, and secret-shaped
 * strings in messages and request URLs are scrubbed.
 */
@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig, stream?: NodeJS.WritableStream): DynamicModule {
    const pinoHttp: Options = {
      level: config.log.level,
      // Lines are written in batches of up to 8 KiB, and at least every 250 ms:
      // a write syscall per line was a tenth of the CPU of a simple GET here.
      // pino flushes what is buffered when the process exits.
      stream: stream ?? pino.destination({ dest: 1, sync: false, minLength: 8192, periodicFlush: 250 }),
      genReqId: (req: RawRequest) => req[REQUEST_ID] ?? 'unknown',
      autoLogging: { ignore: (req: IncomingMessage) => req.url === '/health' || req.url === '/metrics' },
      // Sensitive fields in log objects are censored at any depth before
      // serializers run. pino does not format child loggers' bindings; the
      // only ones are the request id and pino-http's request, whose
      // serializer below goes through the same censor.
      formatters: { log: censorSensitive },
      hooks: {
        logMethod(args: unknown[], method: (...a: unknown[]) => void) {
          method.apply(
            this,
            args.map((a) => (typeof a === 'string' ? scrubSecrets(a) : a)),
          );
        },
      },
      serializers: {
        req: (req: { id: string; method: string; url: string; headers: Record<string, unknown> }) =>
          censorSensitive({
            id: req.id,
            method: req.method,
            url: scrubSecrets(req.url),
            userAgent: req.headers['user-agent'],
            authorization: req.headers.authorization,
          }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
    };
    return {
      module: LoggingModule,
      imports: [
        // nestjs-pino for the Logger only: its middleware is replaced by RequestLogging's hook (none registered).
        LoggerModule.forRoot({ pinoHttp, useExisting: true, forRoutes: [] }),
      ],
      providers: [{ provide: RequestLogging, useValue: new RequestLogging(pinoHttp) }],
      exports: [RequestLogging],
    };
  }
}
