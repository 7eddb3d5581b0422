import { type FieldNode, type GraphQLResolveInfo, Kind, type SelectionSetNode } from 'graphql';

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

/** Whether a connection field's selection reads its rows (`edges`, `nodes`) or its `pageInfo`. */
export function selectsPage(info: GraphQLResolveInfo): boolean {
  const fields = subfields(info, info.fieldNodes);
  return fields.has('edges') || fields.has('pageInfo');
}
