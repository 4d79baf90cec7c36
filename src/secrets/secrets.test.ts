import { expect } from 'chai';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretCipher } from './cipher.js';
import { decryptConfiguration, encryptConfiguration, redactConfiguration, redactText } from './redact.js';

describe('secrets', () => {
  const cipher = new SecretCipher('a-secret-key-of-at-least-32-characters!');

  it('encrypts with AES-256-GCM and refuses tampered ciphertext', () => {
    const stored = cipher.encrypt('hunter2');
    expect(stored)
      .to.match(/^enc:v2:/)
      .and.not.include('hunter2');
    expect(cipher.encrypt('hunter2')).not.to.equal(stored);
    expect(cipher.decrypt(stored)).to.equal('hunter2');
    // The second-to-last character carries only ciphertext bits; replace it by a different one.
    const at = stored.length - 2;
    const tampered = stored.slice(0, at) + (stored[at] === 'A' ? 'B' : 'A') + stored.slice(at + 1);
    expect(tampered).not.to.equal(stored);
    expect(() => cipher.decrypt(tampered)).to.throw();
    expect(() => new SecretCipher('another-key-of-at-least-32-characters!!').decrypt(stored)).to.throw();
  });

  it('generates a key file with mode 0600 when no key is configured', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pollgate-key-'));
    const a = SecretCipher.fromConfig(null, dir);
    expect(statSync(join(dir, 'secret.key')).mode & 0o777).to.equal(0o600);
    expect(SecretCipher.fromConfig(null, dir).decrypt(a.encrypt('x'))).to.equal('x');
  });

  it('treats connector secret fields and secret-looking keys as secrets', () => {
    const config = {
      domain: 'acme',
      pin: '1234',
      api_key: 'k-123',
      'event.notification.signature.key': 'sig',
      'event.notification.callback.password': 'pw',
      'oauth.token': 'tok-secret-1',
      'event.notification.callback.headers': { 'Content-Type': 'application/json', 'X-Auth': 'hdr-secret', Authorization: 'Bearer abc' },
      'oauth.refresh': 'refresh-1',
      'event.notification.callback.auth': 'basic',
      'event.poller.refresh_interval': '15',
      author: 'ann',
    };
    const secrets = new Set(['pin']);
    const stored = encryptConfiguration(config, secrets, cipher);
    expect(JSON.stringify(stored)).not.to.match(/1234|k-123|"sig"|"pw"|tok-secret-1|Bearer abc|hdr-secret|refresh-1/);
    expect(stored.domain).to.equal('acme');
    expect(decryptConfiguration(stored, cipher)).to.deep.equal({ configuration: config, unreadable: [] });
    expect(redactConfiguration(config, secrets)).to.deep.equal({
      domain: 'acme',
      pin: '********',
      api_key: '********',
      'event.notification.signature.key': '********',
      'event.notification.callback.password': '********',
      'oauth.token': '********',
      'event.notification.callback.headers': { 'Content-Type': 'application/json', 'X-Auth': '********', Authorization: '********' },
      'oauth.refresh': '********',
      'event.notification.callback.auth': 'basic',
      'event.poller.refresh_interval': '15',
      author: 'ann',
    });
    expect(redactText('GET /x?key=k-123', ['k-123'])).to.equal('GET /x?key=********');
  });
});
