/**
 * One in-memory collection of an emulated provider: records keyed by id, stamped with
 * created_at/updated_at (ISO 8601 with ms and 'Z') from the provider's clock, listed sorted by
 * updated_at then id — the order a "changed since" listing of a real provider has.
 */
export type ProviderRecord = Record<string, unknown> & { id: number | string; created_at: string; updated_at: string };

/** How GET /<collection> pages and shapes its answer (see provider-server.ts). */
export type Style = 'page' | 'offset' | 'cursor' | 'link' | 'hal';
export const STYLES: readonly Style[] = ['page', 'offset', 'cursor', 'link', 'hal'];

export type ChangeAction = 'created' | 'updated' | 'deleted';

export class Collection {
  style: Style = 'page';
  /** Records per page when the request names no size. */
  defaultPageSize = 100;
  /** Called after every change made through upsert/update/remove (the sandbox pushes webhooks from here). */
  onChange?: (action: ChangeAction, record: ProviderRecord) => void;
  private readonly records = new Map<string, ProviderRecord>();
  private nextId = 1;
  private sorted: ProviderRecord[] | null = null;

  constructor(
    readonly name: string,
    private readonly clock: () => number,
  ) {}

  /** Creates or replaces-by-merge a record; `id` auto-increments unless given. */
  upsert(record: Record<string, unknown>, at?: Date | number): ProviderRecord {
    const id = record.id ?? this.nextId++;
    if (typeof id !== 'number' && typeof id !== 'string') throw new Error(`record id in ${this.name} must be a number or a string, got ${typeof id}`);
    this.claimId(id);
    const existing = this.records.get(String(id));
    const when = this.stamp(at);
    const createdAt = existing?.created_at ?? (typeof record.created_at === 'string' ? record.created_at : when);
    const full = { ...existing, ...record, id, created_at: createdAt, updated_at: when } as ProviderRecord;
    this.records.set(String(id), full);
    this.sorted = null;
    this.onChange?.(existing ? 'updated' : 'created', full);
    return full;
  }

  /** Merges `patch` into an existing record (throws when there is none) and stamps updated_at. */
  update(id: number | string, patch: Record<string, unknown>, at?: Date | number): ProviderRecord {
    const existing = this.records.get(String(id));
    if (!existing) throw new Error(`no record ${id} in ${this.name}`);
    return this.upsert({ ...patch, id: existing.id }, at);
  }

  remove(id: number | string): void {
    const record = this.records.get(String(id));
    if (!record) return;
    this.records.delete(String(id));
    this.sorted = null;
    this.onChange?.('deleted', record);
  }

  get(id: number | string): ProviderRecord | undefined {
    return this.records.get(String(id));
  }

  /** Every record, sorted by updated_at then id (cached until the next change). */
  all(): ProviderRecord[] {
    this.sorted ??= [...this.records.values()].sort(byUpdatedThenId);
    return this.sorted;
  }

  /** Bulk insert without change callbacks, all stamped `at` (benchmarks pre-build 100,000 records). */
  seed(n: number, make: (i: number) => Record<string, unknown> = (i) => ({ name: `record ${i}` }), at?: Date | number): void {
    const when = this.stamp(at);
    for (let i = 0; i < n; i++) {
      const fields = make(i);
      const id = (fields.id as number | string | undefined) ?? this.nextId++;
      this.claimId(id);
      this.records.set(String(id), { ...fields, id, created_at: when, updated_at: when } as ProviderRecord);
    }
    this.sorted = null;
  }

  get size(): number {
    return this.records.size;
  }

  /** Keeps auto-increment ids clear of ids given explicitly. */
  private claimId(id: number | string): void {
    if (typeof id === 'number' && id >= this.nextId) this.nextId = Math.floor(id) + 1;
  }

  private stamp(at?: Date | number): string {
    const ms = at === undefined ? this.clock() : typeof at === 'number' ? at : at.getTime();
    if (!Number.isFinite(ms)) throw new Error(`invalid time for a record in ${this.name}: ${String(at)}`);
    return new Date(ms).toISOString();
  }
}

function byUpdatedThenId(a: ProviderRecord, b: ProviderRecord): number {
  if (a.updated_at !== b.updated_at) return a.updated_at < b.updated_at ? -1 : 1;
  // Numeric ids compare as numbers (a seeded collection ties on updated_at for every record).
  if (typeof a.id === 'number' && typeof b.id === 'number') return a.id - b.id;
  return String(a.id).localeCompare(String(b.id), undefined, { numeric: true });
}
