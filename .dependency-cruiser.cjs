/**
 * The layers of src/ and the direction imports may point (docs/architecture.md "Dependency rules").
 * `npm run lint` runs these rules with dependency-cruiser; a violation fails it.
 *
 * From the bottom up:
 * - foundation: errors.ts, log.ts, clock.ts, metrics.ts, config/, lib/, db/, network/, secrets/,
 *   templates/, api/ (the HTTP plumbing every router uses);
 * - low layers, in this order (each imports only those before it): connectors/ (the connector
 *   format: its types, JSON Schema, key vocabulary, auth alternatives, event mapping language,
 *   validation of the shared parts), events/ (the event log), provider/ (the one way to call a
 *   provider and page through its listings), instances/ (instance CRUD and its store); each feature
 *   plugs into them through the interfaces they declare (connectors/section.ts…);
 * - the feature contract: feature.ts (the `Feature` a feature returns and the `GatewayContext` type
 *   it is built from) and stores.ts (the unit of work: every table group's store, bound to one
 *   transaction). feature.ts holds types only and features import only it, so no code of one
 *   feature runs in another through the contract; stores.ts names the store modules of the
 *   features and nothing else of theirs;
 * - features: auth/, check/, connect/, delivery/, drafts/, maintenance/, poller/, requests/, schedules/, webhooks/;
 *   each declares the part of the context it needs (`Pick<GatewayContext, …>` and `StoresOf<…>`, its context.ts) and
 *   the interfaces it needs of another feature (connect/authorization.ts), which main.ts fills;
 * - composition: main.ts, connector-sections.ts, cli.ts, cli/, console/: they put the
 *   features together and may import anything.
 * Tests (*.test.ts, wherever they live) wire what they test and are held to the cycle rule only.
 *
 * TypeScript 7 has no compiler API for dependency-cruiser to parse with, so it parses with
 * @swc/core. Seen with dependency-cruiser 17.4.3 and @swc/core 1.16.22: an import that comes after
 * a class with a field initializer (`private readonly x: T[] = []`) is missed. Keep imports at the
 * top of a file, where every one is seen.
 */
const FOUNDATION = '^src/((errors|log|clock|metrics)[.]ts$|(config|lib|db|network|secrets|templates|api)/)';
const LOW = '^src/(connectors|instances|events|provider)/';
const FEATURES = '^src/(auth|check|connect|delivery|drafts|maintenance|poller|requests|schedules|webhooks)/';
const CONTRACT = '^src/(feature|stores)[.]ts$';
const COMPOSITION = '^src/((main|connector-sections|cli)[.]ts$|(cli|console)/)';
const TESTS = '[.]test[.]ts$';

module.exports = {
  forbidden: [
    {
      name: 'format-imports-no-feature',
      comment: 'connectors/ is the connector format: it imports no feature and no other low layer; features register what they own (connectors/section.ts)',
      severity: 'error',
      from: { path: '^src/connectors/', pathNot: TESTS },
      to: { path: [FEATURES, COMPOSITION, '^src/(instances|events|provider)/'] },
    },
    {
      name: 'low-layers-in-order',
      comment: 'connectors/ < events/ < provider/ < instances/: a low layer imports only those before it, so no cycle can run through them',
      severity: 'error',
      from: { path: '^src/(events|provider)/', pathNot: TESTS },
      to: { path: ['^src/instances/', '^src/provider/'], pathNot: '^src/$1/' },
    },
    {
      name: 'low-layers-import-no-feature',
      comment: 'instances/, events/ and provider/ sit below the features: a feature hooks into them through their interfaces, never the reverse',
      severity: 'error',
      from: { path: '^src/(events|provider|instances)/', pathNot: TESTS },
      to: { path: [FEATURES, COMPOSITION] },
    },
    {
      name: 'foundation-imports-only-foundation',
      comment: 'the foundation knows nothing of connectors, instances, features or their composition',
      severity: 'error',
      from: { path: FOUNDATION, pathNot: TESTS },
      to: { path: [LOW, CONTRACT, FEATURES, COMPOSITION] },
    },
    {
      name: 'low-layers-import-no-contract',
      comment: 'the low layers sit below the feature contract: they declare their own interfaces (instances/hooks.ts…)',
      severity: 'error',
      from: { path: LOW, pathNot: TESTS },
      to: { path: CONTRACT },
    },
    {
      name: 'contract-names-only-stores',
      comment: 'the feature contract is types (feature.ts) and the unit of work (stores.ts): of a feature it names only its stores, and no composition',
      severity: 'error',
      from: { path: CONTRACT },
      to: { path: [COMPOSITION, FEATURES], pathNot: 'store[.]ts$' },
    },
    {
      // @swc/core reports no type-only imports (see above), so "types only" is held by feature.ts
      // exporting nothing but types, and by features never importing stores.ts (its values).
      name: 'feature-takes-types-from-the-contract',
      comment: 'a feature takes the contract from feature.ts (types only); the stores are created and bound in main.ts, never by a feature',
      severity: 'error',
      from: { path: FEATURES, pathNot: TESTS },
      to: { path: '^src/stores[.]ts$' },
    },
    {
      name: 'feature-imports-no-other-feature',
      comment: 'a feature reaches another only through the layers below both (connectors/, instances/, events/, provider/, the foundation)',
      severity: 'error',
      from: { path: FEATURES, pathNot: TESTS },
      to: { path: FEATURES, pathNot: '^src/$1/' },
    },
    {
      name: 'feature-imports-no-composition',
      comment: 'a feature is built from what it is given, not from the gateway that composes it',
      severity: 'error',
      from: { path: FEATURES, pathNot: TESTS },
      to: { path: COMPOSITION },
    },
    {
      name: 'src-imports-no-test',
      comment: 'the product never runs test code (tests under src/ may use test helpers)',
      severity: 'error',
      from: { path: '^src/', pathNot: TESTS },
      to: { path: ['^test/', TESTS] },
    },
    {
      name: 'no-circular',
      comment: 'no import cycle between modules',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      // The layer rules above leave no room for a cycle between folders; this one names any all the
      // same. No violation is baselined: the lint passes with none.
      name: 'no-circular-folders',
      comment: 'no import cycle between folders (auth/ importing instances/ importing auth/…)',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
