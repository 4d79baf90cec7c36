import { expect } from 'chai';
import { DefinitionError } from '../errors.js';
import { compileJsonPath, containersOf, firstMatch, plainSteps } from './json-path.js';

describe('paths: dotted and JSONPath', () => {
  const doc = { data: { id: 7, items: [{ sku: 'a' }, { sku: 'b' }] }, 'a.b': 1 };

  it('reads a dotted path as the JSONPath of the same names', () => {
    for (const [dotted, jsonPath] of [
      ['data.id', '$.data.id'],
      ['data.items.1.sku', '$.data.items[1].sku'],
      ['data', '$.data'],
    ]) {
      expect(compileJsonPath(dotted).first(doc), dotted).to.deep.equal(compileJsonPath(jsonPath).first(doc));
      expect(compileJsonPath(dotted).all(doc), dotted).to.deep.equal(compileJsonPath(jsonPath).all(doc));
      expect(firstMatch(doc, dotted), dotted).to.deep.equal(firstMatch(doc, jsonPath));
    }
    expect(compileJsonPath('data.missing.id').all(doc)).to.deep.equal([]);
    expect(compileJsonPath('data.id').selectsElements).to.equal(false);
  });

  it('takes a dotted name literally and reads own properties only', () => {
    expect(firstMatch({ '@_id': 3 }, '@_id')).to.equal(3);
    expect(firstMatch({ a: {} }, 'a.constructor')).to.equal(undefined);
    expect(firstMatch(doc, 'a.b'), 'a dot always separates names').to.equal(undefined);
  });

  it('refuses a dotted path with an empty step, naming the field', () => {
    for (const path of ['', 'a..b', '.a', 'a.']) {
      expect(() => compileJsonPath(path, 'idField'))
        .to.throw(DefinitionError)
        .with.property('message')
        .that.matches(/^idField: .* is not a valid path: /);
    }
    expect(firstMatch(doc, 'data..id')).to.equal(undefined);
  });

  it('finds the containers of a dotted path like those of its JSONPath', () => {
    expect(containersOf('data.items', doc)).to.deep.equal(containersOf('$.data.items', doc));
    expect(containersOf('data', doc)).to.deep.equal([doc]);
  });

  it('gives the names of a plain path, and none for one that selects', () => {
    expect(plainSteps('pagination.starting_after')).to.deep.equal(['pagination', 'starting_after']);
    expect(plainSteps('$.pagination.starting_after')).to.deep.equal(['pagination', 'starting_after']);
    expect(plainSteps("$['page']['after']")).to.deep.equal(['page', 'after']);
    expect(plainSteps('$.page[*]')).to.equal(undefined);
    expect(plainSteps('$')).to.equal(undefined);
  });
});
