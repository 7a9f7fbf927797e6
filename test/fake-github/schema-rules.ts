import { schema as githubSchema } from '@octokit/graphql-schema';
import {
  buildClientSchema,
  getNamedType,
  isCompositeType,
  isInterfaceType,
  isObjectType,
  Kind,
  NoDeprecatedCustomRule,
  specifiedRules,
  validate,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

/** GitHub's published schema, built once per process (it is large). */
let built: GraphQLSchema | undefined;
export function schema(): GraphQLSchema {
  built ??= buildClientSchema(githubSchema.json as Parameters<typeof buildClientSchema>[0]);
  return built;
}

export const MAX_NODES = 500_000;

export interface QueryCheck {
  errors: string[];
  deprecated: number;
  cost: number;
  nodeCount: number;
}

function argValue(node: ValueNode | undefined, variables: Record<string, unknown>): unknown {
  if (!node) return undefined;
  if (node.kind === Kind.INT) return Number(node.value);
  if (node.kind === Kind.VARIABLE) return variables[node.name.value];
  return undefined;
}

/**
 * What GitHub checks before running a query: the schema rules, every connection bounded by
 * `first` or `last` in 1..100, and at most 500,000 nodes. Also computes GitHub's point cost
 * (requests needed to fill every connection / 100, rounded, at least 1) and counts deprecated
 * fields.
 *
 * The walk follows the selections themselves, fragment spreads included: a fragment spread
 * under 20 aliases, or under a connection of 100 threads, costs 20 or 100 times, as on GitHub.
 */
export function checkQuery(document: DocumentNode, variables: Record<string, unknown>): QueryCheck {
  const s = schema();
  const errors = validate(s, document, specifiedRules).map((e) => e.message);
  const deprecated = validate(s, document, [NoDeprecatedCustomRule]).length;
  if (errors.length > 0) return { errors, deprecated, cost: 0, nodeCount: 0 };

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  let requests = 0;
  let nodeCount = 0;

  const typeNamed = (name: string, fallback: GraphQLCompositeType): GraphQLCompositeType => {
    const t = s.getType(name);
    return t && isCompositeType(t) ? t : fallback;
  };
  // `multiplicity`: how many parents the selections run for (the product of the enclosing pages)
  const walk = (set: SelectionSetNode, parent: GraphQLCompositeType, multiplicity: number): void => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        walk(sel.selectionSet, sel.typeCondition ? typeNamed(sel.typeCondition.name.value, parent) : parent, multiplicity);
        continue;
      }
      if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(sel.name.value);
        if (fragment) walk(fragment.selectionSet, typeNamed(fragment.typeCondition.name.value, parent), multiplicity);
        continue;
      }
      if (sel.name.value.startsWith('__') || !(isObjectType(parent) || isInterfaceType(parent))) continue;
      const field = parent.getFields()[sel.name.value];
      if (!field) continue;
      const type = getNamedType(field.type);
      let inner = multiplicity;
      if (type.name.endsWith('Connection')) {
        const args = new Map((sel.arguments ?? []).map((a) => [a.name.value, argValue(a.value, variables)]));
        const size = args.get('first') ?? args.get('last');
        if (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 100) {
          errors.push(`You must provide a \`first\` or \`last\` value to properly paginate the \`${sel.name.value}\` connection.`);
          continue;
        }
        requests += multiplicity;
        nodeCount += multiplicity * size;
        inner = multiplicity * size;
      }
      if (sel.selectionSet && isCompositeType(type)) walk(sel.selectionSet, type, inner);
    }
  };
  for (const d of document.definitions) {
    if (d.kind !== Kind.OPERATION_DEFINITION) continue;
    const root = s.getRootType(d.operation);
    if (root) walk(d.selectionSet, root, 1);
  }
  if (nodeCount > MAX_NODES) errors.push(`This query requests up to ${nodeCount} possible nodes which exceeds the maximum limit of ${MAX_NODES}.`);
  return { errors, deprecated, cost: Math.max(1, Math.round(requests / 100)), nodeCount };
}
