import {
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLInterfaceType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  getArgumentValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type SelectionSetNode,
} from 'graphql';

export interface CostModel {
  /** Items assumed for a connection without `first`/`last` (the API's default page size). */
  defaultPageSize: number;
  /** Largest page the API serves: sizes above it are rejected by the resolvers anyway. */
  maxPageSize: number;
  /** Items assumed for a plain list field that takes no size argument (skills, documents…). */
  defaultListSize: number;
}

export interface CostInput {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
}

function hasFields(
  type: GraphQLNamedType | null | undefined,
): type is GraphQLObjectType | GraphQLInterfaceType {
  return isObjectType(type) || isInterfaceType(type);
}

/** Relay connections: the page size given on the connection field applies to its edges/nodes lists. */
function isConnectionType(type: GraphQLNamedType): boolean {
  return hasFields(type) && 'pageInfo' in type.getFields();
}

/**
 * An upper estimate of how many fields an operation resolves, computed from
 * the document and its variables before anything runs. Every field counts
 * one per item it is resolved for; a list multiplies its subtree by its size,
 * taken from `first`/`last` (so the estimate grows with the page size), from
 * the number of `ids` given, or else from a fixed guess. Introspection fields
 * are not counted: introspection has its own switch.
 */
export function estimateQueryCost(input: CostInput, model: CostModel): number {
  const operation = getOperationAST(input.document, input.operationName ?? undefined);
  if (!operation) return 0;
  const rootType = input.schema.getRootType(operation.operation);
  if (!rootType) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of input.document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) {
      fragments.set(definition.name.value, definition);
    }
  }
  const variables = input.variableValues ?? {};
  const clamp = (size: number) => Math.min(Math.max(Math.trunc(size), 0), model.maxPageSize);

  function argumentsOf(
    field: GraphQLField<unknown, unknown>,
    node: Parameters<typeof getArgumentValues>[1],
  ) {
    try {
      return getArgumentValues(field, node, variables);
    } catch {
      // Bad arguments fail later with a proper message; count them as absent.
      return {};
    }
  }

  function costOf(
    selectionSet: SelectionSetNode,
    parentType: GraphQLNamedType,
    pageSize: number | undefined,
    fragmentPath: ReadonlySet<string>,
  ): number {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition
          ? input.schema.getType(selection.typeCondition.name.value)
          : parentType;
        if (condition) total += costOf(selection.selectionSet, condition, pageSize, fragmentPath);
        continue;
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        // Validation rejects fragment cycles; this guard keeps the estimate safe regardless.
        if (!fragment || fragmentPath.has(name)) continue;
        const condition = input.schema.getType(fragment.typeCondition.name.value);
        if (condition) {
          total += costOf(
            fragment.selectionSet,
            condition,
            pageSize,
            new Set([...fragmentPath, name]),
          );
        }
        continue;
      }
      if (selection.name.value.startsWith('__') || !hasFields(parentType)) continue;
      const field = parentType.getFields()[selection.name.value];
      if (!field) continue;
      const args = argumentsOf(field, selection);
      const sizeArgument = typeof args.first === 'number' ? args.first : args.last;
      const size = typeof sizeArgument === 'number' ? clamp(sizeArgument) : undefined;
      const type = getNamedType(field.type);
      let multiplier = 1;
      if (isListType(getNullableType(field.type))) {
        if (pageSize !== undefined) multiplier = pageSize;
        else if (size !== undefined) multiplier = size;
        else if (Array.isArray(args.ids)) multiplier = args.ids.length;
        else multiplier = model.defaultListSize;
      }
      const childPageSize = isConnectionType(type) ? (size ?? model.defaultPageSize) : undefined;
      const children = selection.selectionSet
        ? costOf(selection.selectionSet, type, childPageSize, fragmentPath)
        : 0;
      total += multiplier * (1 + children);
    }
    return total;
  }

  return costOf(operation.selectionSet, rootType, undefined, new Set());
}
