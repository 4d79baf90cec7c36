/**
 * The instance configuration keys the gateway itself reads, beside a connector's own
 * `configuration` fields (Cloud Elements' key names). They are part of the connector format:
 * templates may name them as `<%= iparam.x %>`, so the format owns the vocabulary and the features
 * that act on a key import it from here.
 */

/** The event keys: notification callback, delivery signing and retries, the poller's schedule. */
export const SETTING_KEYS = {
  enabled: 'event.notification.enabled',
  url: 'event.notification.callback.url',
  method: 'event.notification.callback.method',
  format: 'event.notification.callback.format',
  auth: 'event.notification.callback.auth',
  username: 'event.notification.callback.username',
  password: 'event.notification.callback.password',
  token: 'event.notification.callback.token',
  headers: 'event.notification.callback.headers',
  template: 'event.notification.callback.template',
  responseMapping: 'event.notification.callback.responseMapping',
  signatureKey: 'event.notification.signature.key',
  retry: 'event.notification.retry.schedule',
  maxBatchSize: 'event.notification.maxBatchSize',
  vendorType: 'event.vendor.type',
  interval: 'event.poller.refresh_interval',
  pollerConfig: 'event.poller.configuration',
  schedule: 'event.poller.schedule',
  timezone: 'event.poller.timezone',
} as const;

/** An instance's OAuth settings (client, scope, another origin for the OAuth URLs, handed-over tokens). */
export const OAUTH_KEYS = {
  apiKey: 'oauth.api.key',
  apiSecret: 'oauth.api.secret',
  callbackUrl: 'oauth.callback.url',
  scope: 'oauth.scope',
  baseUrl: 'oauth.base.url',
  userToken: 'oauth.user.token',
  userRefreshToken: 'oauth.user.refresh_token',
  userTokenSecret: 'oauth.user.token.secret',
} as const;

/** Keys that hand tokens over directly: taken into the token store, never kept in the configuration. */
export const TOKEN_KEYS: string[] = [OAUTH_KEYS.userToken, OAUTH_KEYS.userRefreshToken, OAUTH_KEYS.userTokenSecret];

/**
 * The API base of an instance: its `base.url` configuration value when set (every connector
 * accepts it: sandboxes, self-hosted editions, tests), else the connector's `baseUrl` template.
 */
export const BASE_URL_KEY = 'base.url';
