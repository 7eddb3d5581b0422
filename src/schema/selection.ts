import {
  type FieldNode,
  type GraphQLResolveInfo,
  getArgumentValues,
  isObjectType,
  Kind,
  type SelectionSetNode,
} from 'graphql';

/**
 * Looking ahead at what a request selects, so a resolver can skip work
 * nobody asked for (a page query under a count-only request) or fetch
 * nested data together with its parent. Fragments are followed; a field
 * under `@skip`/`@include` counts as selected, which can only cost an
 * unneeded read, never a missing one.
 */
function collectFields(
  info: GraphQLResolveInfo,
  selectionSet: SelectionSetNode | undefined,
  into: Map<string, FieldNode[]>,
  visitedFragments: Set<string>,
): void {
  if (!selectionSet) return;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      const name = selection.name.value;
      const list = into.get(name);
      if (list) list.push(selection);
      else into.set(name, [selection]);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      collectFields(info, selection.selectionSet, into, visitedFragments);
    } else {
      const name = selection.name.value;
      if (visitedFragments.has(name)) continue;
      visitedFragments.add(name);
      collectFields(info, info.fragments[name]?.selectionSet, into, visitedFragments);
    }
  }
}

/**
 * The fields selected under `nodes`, by field name (not alias), each with
 * every node that selects it (aliases and repeated selections included).
 */
export function subfields(
  info: GraphQLResolveInfo,
  nodes: readonly FieldNode[],
): Map<string, FieldNode[]> {
  const fields = new Map<string, FieldNode[]>();
  const visited = new Set<string>();
  for (const node of nodes) collectFields(info, node.selectionSet, fields, visited);
  return fields;
}

/**
 * Whether a connection field's selection reads its rows (`edges`) or its
 * `pageInfo`: the current field's, or that of `nodes` selecting a
 * connection further down.
 */
export function selectsPage(
  info: GraphQLResolveInfo,
  nodes: readonly FieldNode[] = info.fieldNodes,
): boolean {
  // The executors hand every item of a list the same field nodes: one walk per selection, not per item.
  const known = pageSelections.get(nodes);
  if (known !== undefined) return known;
  const fields = subfields(info, nodes);
  const selects = fields.has('edges') || fields.has('pageInfo');
  pageSelections.set(nodes, selects);
  return selects;
}

/**
 * Answers of selectsPage by selection. Its answer depends on the nodes and
 * on the fragments they spread, which belong to the same parsed document:
 * a selection array is never shared between documents.
 */
const pageSelections = new WeakMap<readonly FieldNode[], boolean>();

/**
 * The fields selected at the end of `path` under `nodes`, the current
 * field's by default (`['edges', 'node']`: a connection's nodes).
 */
export function subfieldsAt(
  info: GraphQLResolveInfo,
  path: readonly string[],
  nodes: readonly FieldNode[] = info.fieldNodes,
): Map<string, FieldNode[]> {
  let fields = subfields(info, nodes);
  for (const name of path) fields = subfields(info, fields.get(name) ?? []);
  return fields;
}

/**
 * The arguments each selection of `fieldName` on `typeName` will resolve
 * with (variables and defaults applied, as execution will apply them), or
 * undefined where they cannot be read (an invalid argument, which the
 * field's own resolution reports).
 */
export function argumentsOfSelections(
  info: GraphQLResolveInfo,
  typeName: string,
  fieldName: string,
  nodes: readonly FieldNode[],
): (Record<string, unknown> | undefined)[] {
  const type = info.schema.getType(typeName);
  const field = isObjectType(type) ? type.getFields()[fieldName] : undefined;
  return nodes.map((node) => {
    if (!field) return undefined;
    try {
      return getArgumentValues(field, node, info.variableValues);
    } catch {
      return undefined;
    }
  });
}
