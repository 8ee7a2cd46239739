import { Foundation1795452365038 } from './1795452365038-Foundation';

/** Every migration, in order. Listed explicitly so the app, the CLI and tests run the same set. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const MIGRATIONS: Function[] = [Foundation1795452365038];
