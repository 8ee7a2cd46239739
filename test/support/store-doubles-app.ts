import { AwsSecretsManagerDouble } from '../doubles/aws-secrets-manager-double';
import { storeDoublesEnv } from '../doubles/store-doubles-env';
import { VaultDouble } from '../doubles/vault-double';
import { Fixtures } from './fixtures';
import { startTestApp, TestApp } from './test-app';

/** The app wired to the Vault and Secrets Manager doubles, with one owner, product and agent. */
export interface StoreDoublesApp {
  vault: VaultDouble;
  aws: AwsSecretsManagerDouble;
  t: TestApp;
  f: Fixtures;
  world: { owner: any; product: any; agent: any };
  /** Closes the app, then stops both doubles. */
  close(): Promise<void>;
}

/** The settings for the store doubles: store calls time out after 1 s and retry after 5 ms. */
export function storeDoublesAppEnv(vault: VaultDouble, aws: AwsSecretsManagerDouble): Record<string, string> {
  return { ...storeDoublesEnv(vault, aws), SECRET_STORE_TIMEOUT_MS: '1000', SECRET_STORE_RETRY_BASE_MS: '5' };
}

/**
 * Starts both store doubles and the app pointed at them (with
 * {@link storeDoublesAppEnv}, overridden by `env`), and builds a world.
 */
export async function startStoreDoublesApp(env: Record<string, string> = {}): Promise<StoreDoublesApp> {
  const vault = await new VaultDouble().start();
  const aws = await new AwsSecretsManagerDouble().start();
  let t: TestApp | undefined;
  const close = async (): Promise<void> => {
    await t?.close();
    await vault.stop();
    await aws.stop();
  };
  try {
    t = await startTestApp({
      env: { ...storeDoublesAppEnv(vault, aws), ...env },
    });
    const f = new Fixtures(t);
    return { vault, aws, t, f, world: await f.world(), close };
  } catch (error) {
    await close();
    throw error;
  }
}
