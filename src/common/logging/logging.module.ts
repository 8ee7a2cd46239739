import type { IncomingMessage } from 'node:http';

import { DynamicModule, Module, RequestMethod } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';

import type { AppConfig } from '../../config/app-config';
import { REQUEST_ID } from '../http/request-id';
import { censorSensitive, scrubSecrets } from './redact';

type RawRequest = IncomingMessage & { [REQUEST_ID]?: string };

/**
 * The enforcement hot path (src/enforcement/enforcement.controller.ts): every
 * call there is kept as a per-call usage record (with its request id, status
 * and deny code; docs/usage.md) instead of an access-log line, which cost a
 * tenth of a call's CPU. Lines written while serving them carry no request id.
 */
const NOT_ACCESS_LOGGED = [
  { path: 'v1/verify', method: RequestMethod.POST },
  { path: 'v1/authz', method: RequestMethod.ALL },
  { path: 'v1/authz/*path', method: RequestMethod.ALL },
];

/**
 * Structured JSON logs through pino: one line per request with its id, and the
 * same id on every line written while serving it (except the hot path's, NOT_ACCESS_LOGGED). Fields named like secrets or
 * tokens are censored at any depth, and secret-shaped strings in messages and
 * request URLs are scrubbed.
 */
@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig, stream?: NodeJS.WritableStream): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          exclude: NOT_ACCESS_LOGGED,
          pinoHttp: {
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
          },
        }),
      ],
    };
  }
}
