import type Router from '@koa/router';
import type { RouteModule } from '../api/app.js';
import { readJsonObject } from '../api/body.js';
import { idParam, readPageRequest, sendPage } from '../api/pagination.js';
import { ValidationError } from '../errors.js';
import { redactConfiguration } from '../secrets/redact.js';
import type { Config } from '../config/index.js';
import type { InstanceService } from './service.js';
import type { Instance } from './store.js';

/** The instance answer: Cloud Elements' shape, every secret shown as "********". */
export function presentInstance(instance: Instance, secretsOf: (key: string) => ReadonlySet<string>, publicUrl: string) {
  return {
    id: instance.id,
    name: instance.name,
    element: { key: instance.elementKey },
    tags: instance.tags,
    configuration: redactConfiguration(instance.configuration, secretsOf(instance.elementKey)),
    eventsEnabled: instance.eventsEnabled,
    callbackDisabled: instance.callbackDisabled,
    vendorType: instance.vendorType,
    ...(instance.webhookToken ? { webhookUrl: `${publicUrl}/hooks/${instance.webhookToken}` } : {}),
    ...(instance.webhookId ? { webhookId: instance.webhookId, webhookIds: instance.webhookIds } : {}),
    ...(instance.unreadableSecrets.length > 0 ? { secretsUnreadable: instance.unreadableSecrets } : {}),
    createdDate: new Date(instance.createdAt).toISOString(),
    updatedDate: new Date(instance.updatedAt).toISOString(),
  };
}

export interface InstanceRouteDeps {
  instances: InstanceService;
  secretsOf(key: string): ReadonlySet<string>;
  config: Pick<Config, 'server'>;
}

export function instanceRoutes({ instances: service, secretsOf, config }: InstanceRouteDeps): RouteModule {
  const { publicUrl, maxBodyBytes } = config.server;
  const present = (i: Instance) => presentInstance(i, secretsOf, publicUrl);
  return (router: Router) => {
    router.post('/instances', async (ctx) => {
      const instance = await service.create(await readJsonObject(ctx, maxBodyBytes));
      ctx.status = 201;
      ctx.body = present(instance);
    });

    router.get('/instances', async (ctx) => {
      const page = readPageRequest(ctx);
      sendPage(ctx, await service.store.list(page), page, (i) => i.id, present);
    });

    router.get('/instances/:id', async (ctx) => {
      ctx.body = present(await service.require(idParam(ctx.params.id, 'instance')));
    });

    router.patch('/instances/:id', async (ctx) => {
      const id = idParam(ctx.params.id, 'instance');
      await service.require(id);
      ctx.body = present(await service.update(id, await readJsonObject(ctx, maxBodyBytes)));
    });

    router.delete('/instances/:id', async (ctx) => {
      await service.delete(idParam(ctx.params.id, 'instance'));
      ctx.status = 200;
      ctx.body = {};
    });

    router.put('/instances/:id/events/enabled', async (ctx) => {
      const id = idParam(ctx.params.id, 'instance');
      await service.require(id);
      const body = await readJsonObject(ctx, maxBodyBytes);
      const enabled = body.enabled === 'true' ? true : body.enabled === 'false' ? false : body.enabled;
      if (typeof enabled !== 'boolean') throw new ValidationError('enabled must be true or false', [{ field: 'enabled' }]);
      ctx.body = present(await service.setEnabled(id, enabled));
    });
  };
}
