import { Fixtures } from './support/fixtures';
import { startTestApp, TestApp } from './support/test-app';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('issues a credential end to end', async () => {
    const f = new Fixtures(t);
    const { product, agent } = await f.world();
    const issued = await f.credential(agent.id, [`${product.name}:read`]);
    expect(issued.status).toBe(201);
    expect(issued.secret).toMatch(/^agk_live_[0-9A-Za-z]{49}$/);
    expect(issued.credential.status).toBe('active');
  });
});
