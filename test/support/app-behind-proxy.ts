import { TEST_PG_URL } from './env';
import { TcpProxy } from './tcp-proxy';
import { startTestApp, TestApp } from './test-app';
import { createTestDatabase } from './test-db';

/** The app on a database of its own that it reaches only through a TCP proxy the test can cut and resume. */
export async function startAppBehindProxy(): Promise<{ t: TestApp; proxy: TcpProxy }> {
  const database = await createTestDatabase();
  const pg = new URL(TEST_PG_URL);
  const proxy = await TcpProxy.start({ host: pg.hostname, port: Number(pg.port || 5432) });
  const t = await startTestApp({ database: { name: database.name, url: proxy.through(database.url) } });
  return { t, proxy };
}

/** Resumes the proxy (so the app can close cleanly), closes the app, then stops the proxy. */
export async function closeAppBehindProxy(t: TestApp, proxy: TcpProxy): Promise<void> {
  await proxy.resume();
  await t.close();
  await proxy.stop();
}
