import { Webhook } from 'standardwebhooks';

import { formatSigningSecret, signatureHeader, signingKeyOf, webhookHeaders } from './webhook-signature';

describe('webhook signatures', () => {
  it('matches the Standard Webhooks test vector', () => {
    const key = signingKeyOf('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(signatureHeader('msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}', [key])).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('signs with every key, and the reference verifier accepts each', () => {
    const oldSecret = formatSigningSecret(Buffer.alloc(32, 1));
    const newSecret = formatSigningSecret(Buffer.alloc(32, 2));
    const body = JSON.stringify({ type: 'credential.revoked', data: { credentialId: 'x' } });
    const headers = webhookHeaders('evt-1', new Date(), body, [signingKeyOf(newSecret), signingKeyOf(oldSecret)]);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(oldSecret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(newSecret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(formatSigningSecret(Buffer.alloc(32, 3))).verify(body, headers)).toThrow();
  });
});
