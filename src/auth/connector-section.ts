import type { ConnectorSection, SectionReport } from '../connectors/section.js';
import type { ConnectorDefinition } from '../connectors/schema.js';
import { authAlternatives, whenKeys } from '../connectors/auth-alternatives.js';

/**
 * `auth`, one definition or a list of alternatives: each one's templates and paths; its `when`
 * keys are configuration fields; an alternative after one without `when` would never apply.
 */
export const authSection: ConnectorSection = {
  name: 'auth',
  validate(def: ConnectorDefinition, report: SectionReport): void {
    const alternatives = authAlternatives(def);
    alternatives.forEach((alternative, i) => {
      const at = Array.isArray(def.auth) ? `/auth/${i}` : '/auth';
      const auth = alternative as unknown as Record<string, unknown>;
      for (const key of ['username', 'password', 'token', 'value', 'authorizationParams', 'tokenParams']) report.strings(`${at}/${key}`, auth[key]);
      for (const key of ['authorizationUrl', 'tokenUrl', 'requestTokenUrl', 'authorizeUrl', 'accessTokenUrl'])
        report.strings(`${at}/${key}`, auth[key], { url: true });
      report.path(`${at}/baseUrlFrom`, auth.baseUrlFrom as string | undefined);
      const lookup = alternative.type === 'oauth2' ? alternative.baseUrlLookup : undefined;
      if (lookup) {
        report.strings(`${at}/baseUrlLookup/url`, lookup.url, { url: true });
        report.strings(`${at}/baseUrlLookup/baseUrl`, lookup.baseUrl, { url: true });
        if (lookup.match) report.strings(`${at}/baseUrlLookup/match/equals`, lookup.match.equals);
        report.path(`${at}/baseUrlLookup/itemsPath`, lookup.itemsPath);
        report.path(`${at}/baseUrlLookup/valuePath`, lookup.valuePath);
        report.path(`${at}/baseUrlLookup/match/path`, lookup.match?.path);
      }
      if (Array.isArray(def.auth) && whenKeys(alternative).length === 0 && i < alternatives.length - 1)
        report.add(`${at}/when`, 'is required: an alternative without "when" fits every instance, so the ones after it would never apply');
      for (const key of whenKeys(alternative))
        if (!report.declared.has(key)) report.add(`${at}/when`, `names "${key}", which is not a configuration field of this connector`);
      for (const [param, key] of Object.entries((alternative.type === 'oauth2' && alternative.callbackParams) || {}))
        if (!report.fields.has(key)) report.add(`${at}/callbackParams/${param}`, `names "${key}", which is not a configuration field of this connector`);
      if (alternative.type !== 'oauth2' && auth.callbackParams !== undefined)
        report.add(`${at}/callbackParams`, 'only an OAuth 2.0 authorization-code alternative has redirect parameters');
    });
  },
};
